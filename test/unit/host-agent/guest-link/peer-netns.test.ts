import assert from 'node:assert/strict';
import { readlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNetns } from '@guestnet/host-agent';

// Without another netns: the client is this process, so its netns is ours.

describe('PeerNetns', () => {
  let dir: string;
  let server: Server;
  let accepted: Socket[];
  let clients: Socket[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guestnet-unit-'));
    accepted = [];
    clients = [];
    server = createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => server.listen(join(dir, 's.sock'), resolve));
  });
  afterEach(async () => {
    for (const socket of [...accepted, ...clients]) socket.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const oneConnection = async (): Promise<Socket> => {
    clients.push(connect(join(dir, 's.sock')));
    for (let i = 0; i < 100 && accepted.length < clients.length; i++) await new Promise((r) => setTimeout(r, 5));
    return accepted.at(-1) as Socket;
  };

  it('finds the netns of a connection through the pid it is given, or by looking for one, and says so', async () => {
    const ours = await readlink('/proc/self/ns/net');
    const peers = new PeerNetns();
    const socket = await oneConnection();
    assert.equal(await peers.isFrom(socket, { netns: ours, pid: process.pid }), 'yes');
    assert.equal(await new PeerNetns().isFrom(socket, { netns: ours, pid: 4194304 }), 'yes', 'a pid that is gone: found by a look');
    assert.deepEqual([...(await peers.sourcesOf([socket])).values()], [ours]);
  });

  it('cannot tell for a netns it finds no process of: unknown, never yes', async () => {
    const socket = await oneConnection();
    assert.equal(await new PeerNetns().isFrom(socket, { netns: 'net:[1]', pid: process.pid }), 'unknown');
  });
});
