import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenExclusively } from '@guestnet/host-agent';
import { SocketBusyError, StateDirError } from '@guestnet/protocol';

const listen = (server: Server, path: string) => new Promise<void>((resolve) => server.listen(path, () => resolve()));
const closed = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe("the guests' socket", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-socket-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is made 0600 in a private directory it creates', async () => {
    const path = join(dir, 'run/guestnet/guest.sock');
    const server = await listenExclusively(path, (socket) => socket.destroy());
    try {
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, 'run/guestnet'))).mode & 0o777, 0o700);
    } finally {
      await closed(server);
    }
  });

  it('refuses a socket another agent serves, and replaces one a dead agent left', async () => {
    const path = join(dir, 'guest.sock');
    const other = createServer();
    await listen(other, path);
    await assert.rejects(
      listenExclusively(path, () => {}),
      (error: unknown) => error instanceof SocketBusyError && error.exitCode === 13,
    );
    await closed(other);
    // A leftover: the socket file of an agent killed with SIGKILL, which had no chance to remove it.
    const dead = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await once(dead.stdout, 'data');
    dead.kill('SIGKILL');
    await once(dead, 'exit');
    assert.equal((await stat(path)).isSocket(), true);
    const server = await listenExclusively(path, () => {});
    await closed(server);
  });

  it('refuses anything but a socket in its place (exit 16)', async () => {
    const file = join(dir, 'file.sock');
    await writeFile(file, '');
    await assert.rejects(
      listenExclusively(file, () => {}),
      (error: unknown) => error instanceof StateDirError && /is a regular file, not a socket/.test(error.message),
    );
    const directory = join(dir, 'dir.sock');
    await mkdir(directory);
    await assert.rejects(
      listenExclusively(directory, () => {}),
      (error: unknown) => error instanceof StateDirError && error.exitCode === 16,
    );
  });

  it('leaves alone, when it closes, a socket that took its path since', async () => {
    // Node's close unlinks the path a server listened on, whatever is there by then: a one-shot attach that
    // took the path as the last one gave it up would lose its socket, and its guest agent could never connect.
    const path = join(dir, 'guest.sock');
    const first = await listenExclusively(path, () => {});
    await rm(path);
    const next = await listenExclusively(path, () => {});
    await closed(first);
    assert.equal((await stat(path)).isSocket(), true);
    await closed(next);
  });
});
