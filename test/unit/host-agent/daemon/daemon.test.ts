import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callDaemon, Daemon, type DaemonHost, daemonListening, resolveSettings, type StartMonitor, statePaths } from '@guestnet/host-agent';
import { SocketBusyError, StateDirError } from '@guestnet/protocol';
import { bareHost } from '../../../fixtures/bare-host.js';

// `host-agent serve` as a whole: it takes, in order, what serving needs, and
// lives or dies whole. A start that fails lets go of all it took, its pid
// file included; a stop lets go of everything even when a step fails. Its
// host is stand-ins: a recording runner, an ip -batch and a monitor that
// count what was done to them; its sockets are real, in a temp dir.

/** Stand-ins for the host, counting what the daemon does with them; `monitorStop` fails the monitor's stop. */
function standIns(monitorStop?: Error) {
  const counts = { kept: 0, closed: 0, monitors: 0, monitorsStopped: 0 };
  const watch: StartMonitor = () => {
    counts.monitors++;
    let running = true;
    return {
      stop: () => {
        counts.monitorsStopped++;
        running = false;
        if (monitorStop) throw monitorStop;
      },
      get running() {
        return running;
      },
    };
  };
  const host: DaemonHost = {
    runner: bareHost(),
    spares: [{ keep: () => void counts.kept++, close: () => void counts.closed++ }],
    watch,
  };
  return { host, counts };
}

describe('daemon/daemon: starting and stopping the daemon whole', () => {
  let dir: string;
  let stateDir: string;
  let lines: Array<{ level: string; message: string }>;
  const running: Daemon[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    stateDir = join(dir, 'state');
    lines = [];
  });
  afterEach(async () => {
    for (const daemon of running.splice(0)) await daemon.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const settings = (socket = join(dir, 'run', 'guest.sock')) => ({ ...resolveSettings({}, {}, 'test'), stateDir, socket });
  function daemon(host: DaemonHost, socket?: string): Daemon {
    const made = new Daemon(settings(socket), (level, message) => void lines.push({ level, message }), { host });
    running.push(made);
    return made;
  }
  const paths = () => statePaths(stateDir);

  it('serves its state dir once started, and lets go of all of it when stopped', async () => {
    const { host, counts } = standIns();
    const served = daemon(host);
    await served.start();
    assert.equal((await readFile(paths().pidFile, 'utf8')).trim(), String(process.pid));
    assert.ok(existsSync(join(dir, 'run', 'guest.sock')));
    assert.deepEqual(await callDaemon(stateDir, { type: 'status' }, 5000), { served: true, result: { daemon: true, guests: [] } });
    assert.deepEqual(counts, { kept: 1, closed: 0, monitors: 1, monitorsStopped: 0 });
    assert.ok(lines.some((l) => l.level === 'info' && l.message === 'serving'));
    await served.stop();
    assert.deepEqual(counts, { kept: 1, closed: 1, monitors: 1, monitorsStopped: 1 });
    assert.equal(existsSync(paths().pidFile), false, 'no pid file says a daemon serves');
    assert.equal(existsSync(paths().controlSocket), false);
    assert.equal(existsSync(join(dir, 'run', 'guest.sock')), false);
    assert.equal(await daemonListening(stateDir), false);
  });

  it('refuses to serve a state dir another daemon serves, leaving that one be', async () => {
    const first = daemon(standIns().host);
    await first.start();
    const { host, counts } = standIns();
    await assert.rejects(
      daemon(host, join(dir, 'run2', 'guest.sock')).start(),
      (error: unknown) => error instanceof SocketBusyError && /already serves/.test(error.message),
    );
    assert.deepEqual(counts, { kept: 0, closed: 0, monitors: 0, monitorsStopped: 0 }, 'it took nothing');
    assert.equal((await readFile(paths().pidFile, 'utf8')).trim(), String(process.pid));
    assert.equal((await callDaemon(stateDir, { type: 'status' }, 5000)).served, true, 'the first still serves');
  });

  it('lets go of all it took when a start fails part way, its pid file included', async () => {
    // The guest socket's dir is a file: the start fails after the pid file, the ip -batch and the monitor.
    await writeFile(join(dir, 'not-a-dir'), '');
    const { host, counts } = standIns();
    await assert.rejects(daemon(host, join(dir, 'not-a-dir', 'guest.sock')).start(), StateDirError);
    assert.deepEqual(counts, { kept: 1, closed: 1, monitors: 1, monitorsStopped: 1 });
    assert.equal(existsSync(paths().pidFile), false, 'a daemon that does not serve holds no pid file');
    assert.equal(await daemonListening(stateDir), false);
    const next = daemon(standIns().host);
    await next.start();
    assert.equal((await callDaemon(stateDir, { type: 'status' }, 5000)).served, true, 'the next daemon starts');
  });

  it('names what failed in letting go, too, after a failed start', async () => {
    await writeFile(join(dir, 'not-a-dir'), '');
    const { host, counts } = standIns(new Error('the monitor would not stop'));
    await assert.rejects(
      daemon(host, join(dir, 'not-a-dir', 'guest.sock')).start(),
      (error: unknown) => error instanceof StateDirError && /; stopping failed too: the monitor would not stop$/.test(error.message),
    );
    assert.equal(counts.closed, 1, 'the steps after the failed one ran');
    assert.equal(existsSync(paths().pidFile), false);
  });

  it('runs every step of a stop even after one fails, then says which failed', async () => {
    const { host, counts } = standIns(new Error('the monitor would not stop'));
    const served = daemon(host);
    await served.start();
    await assert.rejects(served.stop(), /^Error: the monitor would not stop$/);
    assert.deepEqual([counts.monitorsStopped, counts.closed], [1, 1]);
    assert.equal(existsSync(paths().pidFile), false);
    assert.equal(existsSync(join(dir, 'run', 'guest.sock')), false);
    assert.equal(await daemonListening(stateDir), false);
  });

  it('says it cannot serve whole once its guest socket is removed under it', async () => {
    const served = daemon(standIns().host);
    await served.start();
    await rm(join(dir, 'run', 'guest.sock'));
    const failed = await served.failed;
    assert.ok(failed instanceof StateDirError);
    assert.match(failed.message, /^the guest socket .*guest\.sock was removed while this daemon served it; stopping$/);
  });
});
