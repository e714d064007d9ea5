import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeSocket } from '@guestnet/host-agent';
import { ExitCode, StateDirError } from '@guestnet/protocol';

describe('removing a socket path', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const kindOf = async (path: string) => {
    const found = await lstat(path).catch(() => undefined);
    return found === undefined ? 'none' : found.isSocket() ? 'socket' : found.isDirectory() ? 'directory' : 'other';
  };

  it('removes a socket left behind, and is done when there is none', async () => {
    const path = join(dir, 'guest.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    assert.equal(await kindOf(path), 'socket');
    await removeSocket(path, 'guest socket');
    assert.equal(await kindOf(path), 'none');
    await removeSocket(path, 'guest socket');
    server.close();
  });

  it('refuses anything else in its place with exit 16, naming it, and leaves it', async () => {
    const planted = {
      directory: async (path: string) => mkdir(path),
      'regular file': async (path: string) => writeFile(path, 'x'),
      'symbolic link': async (path: string) => symlink(join(dir, 'elsewhere'), path),
    };
    for (const [kind, plant] of Object.entries(planted)) {
      const path = join(dir, `${kind.replace(' ', '-')}.sock`);
      await plant(path);
      await assert.rejects(
        removeSocket(path, 'control socket'),
        (error: Error) =>
          error instanceof StateDirError &&
          error.exitCode === ExitCode.stateDir &&
          error.message === `the control socket ${path} is a ${kind}, not a socket; remove it if it is not needed`,
      );
      assert.notEqual(await kindOf(path), 'none', `${kind} was removed`);
    }
  });
});
