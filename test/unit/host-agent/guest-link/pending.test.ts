import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNetns, PendingConnections } from '@guestnet/host-agent';

/** Stands in for a socket: PendingConnections only destroys sockets and hears them close. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly source: string) {
    super();
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

const asSocket = (fake: FakeSocket) => fake as unknown as Socket;
const fakeSources = async (sockets: Socket[]) => new Map(sockets.map((s) => [s, (s as unknown as FakeSocket).source]));
const settled = () => new Promise((r) => setImmediate(r));

describe('PendingConnections', () => {
  it("drops the oldest of a netns over its limit, and leaves other netns' connections alone", async () => {
    const dropped: string[] = [];
    const pending = new PendingConnections({ total: 100, perSource: 3 }, (reason) => dropped.push(reason), fakeSources);
    const good = new FakeSocket('net:[2]');
    const flood = Array.from({ length: 10 }, () => new FakeSocket('net:[1]'));
    pending.add(asSocket(flood[0] as FakeSocket));
    pending.add(asSocket(good));
    for (const socket of flood.slice(1)) pending.add(asSocket(socket));
    // Looks are paced: the arrivals during the first are covered by the next.
    for (let i = 0; i < 100 && pending.size > 4; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(good.destroyed, false);
    assert.deepEqual(
      flood.map((s) => s.destroyed),
      [...Array(7).fill(true), false, false, false],
    );
    assert.equal(pending.size, 4);
    assert.ok(
      dropped.every((reason) => /from net:\[1\] that had not said hello/.test(reason)),
      dropped.join('; '),
    );
  });

  it('over the total, drops from the busiest known netns rather than a newcomer', async () => {
    const pending = new PendingConnections({ total: 4, perSource: 3 }, () => {}, fakeSources);
    const flood = Array.from({ length: 3 }, () => new FakeSocket('net:[1]'));
    const others = [new FakeSocket('net:[2]')];
    for (const socket of [...flood, ...others]) pending.add(asSocket(socket));
    await settled();
    const late = new FakeSocket('net:[3]');
    pending.add(asSocket(late));
    assert.deepEqual(
      [...flood, ...others, late].map((s) => s.destroyed),
      [true, false, false, false, false],
    );
  });

  it('reports drops over the total apart, so that a line per connection does not drown out which netns floods', async () => {
    const perNetns: string[] = [];
    const overTotal: string[] = [];
    const pending = new PendingConnections(
      { total: 4, perSource: 3 },
      (r) => perNetns.push(r),
      fakeSources,
      (r) => overTotal.push(r),
    );
    for (let i = 0; i < 6; i++) pending.add(asSocket(new FakeSocket('net:[1]')));
    await settled();
    assert.ok(overTotal.length > 0 && overTotal.every((r) => /^too many connections waiting to say hello/.test(r)), overTotal.join('; '));
    assert.ok(
      perNetns.every((r) => /from net:\[1\] that had not said hello/.test(r)),
      perNetns.join('; '),
    );
  });

  it('does not count a connection once it has said hello', async () => {
    const pending = new PendingConnections({ total: 2, perSource: 2 }, () => {}, fakeSources);
    const first = new FakeSocket('net:[1]');
    pending.add(asSocket(first));
    pending.settle(asSocket(first));
    pending.add(asSocket(new FakeSocket('net:[1]')));
    pending.add(asSocket(new FakeSocket('net:[1]')));
    await settled();
    assert.equal(first.destroyed, false);
    assert.equal(pending.size, 2);
  });

  it("holds connections whose netns cannot be told to one netns' share together, and a told guest keeps its own", async () => {
    const dropped: string[] = [];
    // The lookup tells only net:[2]: the others come from a netns it does not look in.
    const untold = async (sockets: Socket[]) =>
      new Map(sockets.filter((s) => (s as unknown as FakeSocket).source === 'net:[2]').map((s) => [s, 'net:[2]']));
    const pending = new PendingConnections({ total: 100, perSource: 3 }, (reason) => dropped.push(reason), untold);
    const good = new FakeSocket('net:[2]');
    const flood = Array.from({ length: 10 }, () => new FakeSocket('net:[9]'));
    pending.add(asSocket(good));
    for (const socket of flood) pending.add(asSocket(socket));
    for (let i = 0; i < 100 && pending.size > 4; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(good.destroyed, false);
    assert.equal(flood.filter((s) => !s.destroyed).length, 3);
    assert.ok(
      dropped.length > 0 && dropped.every((reason) => /from an untold netns that had not said hello/.test(reason)),
      dropped.join('; '),
    );
  });

  it("names the netns a real unix connection came from: this process's own, where an attachment is", async () => {
    const path = join(tmpdir(), `gn-pending-${process.pid}.sock`);
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer((socket) => {
        server.close();
        resolve(socket);
      }).listen(path);
    });
    const client = connect(path);
    const socket = await accepted;
    const { readlink } = await import('node:fs/promises');
    const ours = await readlink('/proc/self/ns/net');
    const peers = new PeerNetns(() => [{ netns: ours, pid: process.pid }]);
    assert.deepEqual([...(await peers.sourcesOf([socket])).values()], [ours]);
    assert.deepEqual([...(await new PeerNetns().sourcesOf([socket])).values()], [], 'where no attachment is, it is not looked for');
    client.destroy();
    socket.destroy();
  });
});
