import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundSockets, everyStep, Holdings, ownPidFile } from '@guestnet/host-agent';
import { SocketBusyError, StateDirError } from '@guestnet/protocol';

describe('daemon lifecycle', () => {
  it('runs every step even after some fail, then throws the first failure naming the others', async () => {
    const ran: number[] = [];
    const step =
      (n: number, fails = false) =>
      async () => {
        ran.push(n);
        if (fails) throw new Error(`step ${n} failed`);
      };
    await assert.rejects(everyStep([step(1), step(2, true), step(3), step(4, true), step(5)]), {
      message: 'step 2 failed; and: step 4 failed',
    });
    assert.deepEqual(ran, [1, 2, 3, 4, 5]);
  });

  it('lets go of what it holds newest first, each once, every one even when one fails', async () => {
    const holdings = new Holdings();
    const released: string[] = [];
    for (const name of ['pid file', 'lock', 'monitor', 'guest socket', 'control socket']) {
      holdings.add(() => {
        released.push(name);
        if (name === 'guest socket') throw new Error('the guest socket is a directory');
      });
    }
    await assert.rejects(holdings.releaseAll(), /the guest socket is a directory/);
    assert.deepEqual(released, ['control socket', 'guest socket', 'monitor', 'lock', 'pid file']);
    await holdings.releaseAll();
    assert.equal(released.length, 5);
  });

  describe('the sockets it serves', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    });
    afterEach(async () => rm(dir, { recursive: true, force: true }));

    const listening = async (path: string) => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(path, resolve));
      return server;
    };

    it('stay intact while they are the sockets bound, and are lost once one is replaced or removed', async () => {
      const guest = join(dir, 'guest.sock');
      const control = join(dir, 'control.sock');
      const servers = [await listening(guest), await listening(control)];
      const sockets = new BoundSockets();
      await sockets.add({ 'guest socket': guest, 'control socket': control });
      assert.equal(await sockets.intact(), true);
      await rm(guest);
      await mkdir(guest);
      assert.equal(await sockets.intact(), false);
      const lost = await sockets.lost;
      assert.ok(lost instanceof StateDirError);
      assert.equal(lost.message, `the guest socket ${guest} was replaced while this daemon served it; stopping`);
      for (const server of servers) server.close();
    });

    it('counts a socket removed, or put back as a new socket, as lost', async () => {
      const control = join(dir, 'control.sock');
      const server = await listening(control);
      const sockets = new BoundSockets();
      await sockets.add({ 'control socket': control });
      await rm(control);
      assert.equal(await sockets.intact(), false);
      assert.match((await sockets.lost).message, /control socket \S+ was removed/);
      server.close();
      const again = new BoundSockets();
      const first = await listening(control);
      await again.add({ 'control socket': control });
      await rm(control);
      const second = await listening(control);
      assert.equal(await again.intact(), false, 'a new socket at the path is not the one bound');
      first.close();
      second.close();
    });

    it('counts a socket removed between its bind and the first look as lost, and still remembers the others', async () => {
      const guest = join(dir, 'guest.sock');
      const server = await listening(guest);
      const sockets = new BoundSockets();
      await sockets.add({ 'guest socket': guest, 'control socket': join(dir, 'control.sock') });
      assert.match((await sockets.lost).message, /the control socket \S+ was removed while this daemon served it/);
      assert.equal(await sockets.intact(), true, 'the guest socket is still the one bound');
      server.close();
    });
  });

  describe('the pid file', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    });
    afterEach(async () => rm(dir, { recursive: true, force: true }));

    it('is taken over from a dead daemon, refused while a live one holds it, and removed only while it names us', async () => {
      const pidFile = join(dir, 'serve.pid');
      await writeFile(pidFile, '999999999\n');
      const release = await ownPidFile(pidFile, dir);
      assert.equal((await readFile(pidFile, 'utf8')).trim(), String(process.pid));
      await assert.rejects(ownPidFile(pidFile, dir), (error: Error) => error instanceof SocketBusyError);
      await writeFile(pidFile, '1\n');
      await release();
      assert.equal((await readFile(pidFile, 'utf8')).trim(), '1', "another daemon's pid file was removed");
      await writeFile(pidFile, `${process.pid}\n`);
      await release();
      await assert.rejects(readFile(pidFile, 'utf8'), { code: 'ENOENT' });
    });
  });
});
