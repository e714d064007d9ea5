import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NetnsReader, PeerNetns } from '@guestnet/host-agent';

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

  it('looks nowhere for a connection closed meanwhile: no table read, no scan of /proc', async () => {
    const socket = await oneConnection();
    // Closed after its inode was known: its handle still names a socket, but the connection is over.
    const closed = { _handle: (socket as unknown as { _handle: unknown })._handle, destroyed: true } as unknown as Socket;
    const looks: string[] = [];
    const { open, readdir } = fs;
    fs.open = ((path: string, ...rest: unknown[]) => {
      looks.push(String(path));
      return (open as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.open;
    fs.readdir = ((path: string, ...rest: unknown[]) => {
      looks.push(String(path));
      return (readdir as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.readdir;
    try {
      assert.deepEqual([...(await new PeerNetns().sourcesOf([closed])).values()], []);
    } finally {
      fs.open = open;
      fs.readdir = readdir;
    }
    assert.deepEqual(looks, []);
  });
});

/** Stands in for a connection: the reader below knows its inode, and PeerNetns asks whether it was closed. */
const connection = (inode: string) => ({ inode, destroyed: false }) as unknown as Socket;

/**
 * A machine of `count` netns, each with one process: pid n in net:[n]. Its
 * tables hold what `tables` says; every read of one is counted.
 */
function machine(count: number, tables: Record<string, string[]>): { reader: NetnsReader; reads: string[] } {
  const reads: string[] = [];
  const reader: NetnsReader = {
    inodeOf: async (socket) => (socket as unknown as { inode: string }).inode,
    netnsOf: async (pid) => (Number(pid) >= 1 && Number(pid) <= count ? `net:[${pid}]` : undefined),
    unixInodes: async (pid) => {
      reads.push(pid);
      return { inodes: new Set(tables[pid] ?? []), complete: true };
    },
    pids: async () => Array.from({ length: count }, (_, i) => String(i + 1)),
  };
  return { reader, reads };
}

describe('PeerNetns, on a machine of many netns', () => {
  // Guest 1 was attached through pid 1, which lives; guest 2 through a pid that has exited, but pid 2 is in its netns.
  const attachments = [
    { netns: 'net:[1]', pid: 1 },
    { netns: 'net:[2]', pid: 99_999 },
  ];
  const tables = { '1': ['agent1'], '2': ['agent2'] };
  // A flood from a netns no process is left in: its connections are in no table anyone can read.
  const flood = (n: number) => Array.from({ length: n }, (_, i) => connection(`flood${i}`));

  it("reads only the attachments' tables and those seen lately, whatever the number of netns on the machine", async () => {
    const counts: number[] = [];
    for (const count of [8, 800]) {
      const { reader, reads } = machine(count, tables);
      const peers = new PeerNetns(() => attachments, reader);
      const agents = [connection('agent1'), connection('agent2')];
      for (let batch = 0; batch < 10; batch++) {
        const found = await peers.sourcesOf([...flood(50), ...(batch === 0 ? agents : [])]);
        if (batch === 0)
          assert.deepEqual(
            agents.map((a) => found.get(a)),
            ['net:[1]', 'net:[2]'],
            "the guests' own connections are told, the exited pid's guest's through a scan",
          );
        assert.equal(found.size, batch === 0 ? 2 : 0, "the flood's connections are untold");
      }
      assert.ok(
        reads.every((pid) => pid === '1' || pid === '2'),
        `no table of a netns without an attachment is read: ${reads.join(' ')}`,
      );
      counts.push(reads.length);
    }
    assert.equal(counts[0], counts[1], `as many reads on a machine of 800 netns as of 8: ${counts.join(' and ')}`);
    assert.ok((counts[0] ?? 0) <= 10 * 2 + 1, `at most each attachment's table per batch: ${counts[0]}`);
  });

  it('looks in no table at all for a flood while no guest is attached', async () => {
    const { reader, reads } = machine(800, tables);
    const peers = new PeerNetns(() => [], reader);
    for (let batch = 0; batch < 10; batch++) assert.equal((await peers.sourcesOf(flood(50))).size, 0);
    assert.deepEqual(reads, []);
  });
});
