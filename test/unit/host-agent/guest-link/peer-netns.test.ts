import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
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
