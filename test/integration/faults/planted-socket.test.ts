import assert from 'node:assert/strict';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { daemonListening } from '@guestnet/host-agent';
import { ExitCode } from '@guestnet/protocol';
import { HOST_AGENT, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// Whoever can write the socket dir (a guest given a read-write view of it, by
// mistake) can put a directory where the daemon's socket belongs. The daemon
// lives or dies whole: it refuses such a path with exit 16, never removes it,
// and never stays alive holding its pid file without its sockets.

const kindOf = async (path: string) => {
  const found = await lstat(path).catch(() => undefined);
  if (!found) return 'none';
  return found.isSocket() ? 'socket' : found.isDirectory() ? 'directory' : 'other';
};

describe('faults: a socket path planted as a directory', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let pidFile: string;
  let control: string;

  /** `serve` in the sandbox; how it ended, or 'still running' when it has not within the guard (then it is killed). */
  const serveUntilExit = async () => {
    const child = sandbox.serveIn(sandbox.hostNs, [
      'node',
      HOST_AGENT,
      'serve',
      '--state-dir',
      sandbox.stateDir,
      '--socket',
      sandbox.socket,
    ]);
    const guard = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), SETTLE_GUARD_MS).unref());
    const ended = await Promise.race([child, guard]);
    if (ended === 'still running') {
      child.kill('SIGKILL');
      await child;
      return { exitCode: undefined, stderr: 'still running' };
    }
    return { exitCode: ended.exitCode, stderr: String(ended.stderr) };
  };

  /** Nothing claims to serve the state dir: no pid file, no control socket answering. */
  const nothingServes = async () => {
    assert.equal(await kindOf(pidFile), 'none', 'serve.pid was left behind');
    assert.equal(await daemonListening(sandbox.stateDir), false);
  };

  before(async () => {
    sandbox = await Sandbox.create();
    pidFile = join(sandbox.stateDir, 'serve.pid');
    control = join(sandbox.stateDir, 'control.sock');
  });
  after(async () => sandbox?.destroy());

  it('serve refuses a guest socket path that is a directory: exit 16 in one line, no pid file, the directory left', async () => {
    await mkdir(sandbox.socket, { recursive: true });
    const result = await serveUntilExit();
    assert.equal(result.exitCode, ExitCode.stateDir, result.stderr);
    assert.match(result.stderr, /^host-agent: the guest socket \S+guest\.sock is a directory, not a socket/);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    await nothingServes();
    assert.equal(await kindOf(sandbox.socket), 'directory');
    await rm(sandbox.socket, { recursive: true });
  });

  it('serve refuses a control socket path that is a directory, and closes the guest socket it had opened', async () => {
    await mkdir(control, { recursive: true });
    const result = await serveUntilExit();
    assert.equal(result.exitCode, ExitCode.stateDir, result.stderr);
    assert.match(result.stderr, /the control socket \S+control\.sock is a directory, not a socket/);
    await nothingServes();
    assert.equal(await kindOf(sandbox.socket), 'none', 'the guest socket was left behind');
    assert.equal(await kindOf(control), 'directory');
    await rm(control, { recursive: true });
  });

  it('a running daemon whose guest socket became a directory still stops whole on SIGTERM, and leaves the directory', async () => {
    const daemon = await sandbox.startDaemon();
    await rm(sandbox.socket);
    await mkdir(sandbox.socket);
    const ended = await daemon.stop('SIGTERM');
    assert.equal(ended.exitCode, ExitCode.stateDir, daemon.output());
    await nothingServes();
    assert.equal(await kindOf(control), 'none', 'the control socket was left behind');
    assert.equal(await kindOf(sandbox.socket), 'directory');
  });

  it('after a kill -9, a new serve refuses the planted directory cleanly: exit 16, and the stale pid file is gone', async () => {
    await rm(sandbox.socket, { recursive: true });
    const daemon = await sandbox.startDaemon();
    assert.equal((await daemon.stop('SIGKILL')).signal, 'SIGKILL');
    await rm(sandbox.socket);
    await mkdir(sandbox.socket);
    const result = await serveUntilExit();
    assert.equal(result.exitCode, ExitCode.stateDir, result.stderr);
    assert.match(result.stderr, /guest socket \S+ is a directory, not a socket/);
    await nothingServes();
    await rm(sandbox.socket, { recursive: true });
  });

  it("a serve whose pid file was removed by hand does not take a live daemon's control socket", async () => {
    const daemon = await sandbox.startDaemon();
    await rm(pidFile);
    const second = sandbox.serveIn(sandbox.hostNs, [
      'node',
      HOST_AGENT,
      'serve',
      '--state-dir',
      sandbox.stateDir,
      '--socket',
      `${sandbox.socket}.2`,
    ]);
    const guard = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), SETTLE_GUARD_MS).unref());
    const ended = await Promise.race([second, guard]);
    if (ended === 'still running') {
      second.kill('SIGKILL');
      assert.fail('a second daemon serves the same state dir');
    }
    assert.equal(ended.exitCode, ExitCode.socketBusy, String(ended.stderr));
    assert.match(String(ended.stderr), /control\.sock is already served by another host-agent serve/);
    assert.equal(await kindOf(`${sandbox.socket}.2`), 'none');
    assert.equal(await daemonListening(sandbox.stateDir), true, 'the running daemon lost its control socket');
    assert.equal((await daemon.stop()).exitCode, 0, daemon.output());
  });

  it('a daemon whose control socket is removed under it stops on its own, rather than live on unreachable', async () => {
    await rm(control, { force: true });
    const daemon = await sandbox.startDaemon();
    await rm(control);
    const guard = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), SETTLE_GUARD_MS).unref());
    const ended = await Promise.race([daemon.ended, guard]);
    if (ended === 'still running') {
      await daemon.stop('SIGKILL');
      assert.fail('the daemon lives on without its control socket');
    }
    assert.equal(ended.exitCode, ExitCode.stateDir, daemon.output());
    assert.match(daemon.output(), /the control socket \S+ was removed while this daemon served it/);
    assert.equal(await kindOf(pidFile), 'none', 'serve.pid was left behind');
    assert.equal(await kindOf(sandbox.socket), 'none', 'the guest socket was left behind');
  });
});
