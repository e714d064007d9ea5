import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { encodeFrame } from '@guestnet/protocol';
import { type Daemon, type Guest, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

type Line = Record<string, unknown> & { level: string; message: string };

/** The daemon's JSON lines so far. */
const linesOf = (daemon: Daemon): Line[] =>
  daemon
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line);

/** Waits until the daemon has logged lines that `match`, and returns them. */
async function logged(daemon: Daemon, match: (line: Line) => boolean, count = 1): Promise<Line[]> {
  const started = Date.now();
  for (;;) {
    const found = linesOf(daemon).filter(match);
    if (found.length >= count) return found;
    if (Date.now() - started > SETTLE_GUARD_MS) assert.fail(`no such log line; the log:\n${daemon.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The event's line says which guest, what changed and how long it took. */
function assertEvent(line: Line | undefined, message: string, guest: Guest | undefined): Line {
  assert.ok(line, message);
  assert.equal(line.message, message);
  if (guest) assert.equal(line.guest, `pid ${guest.pid}`);
  assert.equal(typeof line.ms, 'number', JSON.stringify(line));
  assert.ok((line.ms as number) >= 0);
  return line;
}

describe('host-agent serve: a log line for each attach, detach, forward, reap and refused session', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let daemon: Daemon;

  before(async () => {
    sandbox = await Sandbox.create();
    daemon = await sandbox.startDaemon();
  });
  after(async () => sandbox?.destroy());

  it('attach, forward, forward --remove and detach: one line each', async () => {
    const guest = await sandbox.startGuest();
    for (const args of [['attach'], ['forward', '5555:5555'], ['forward', '5555:5555', '--remove'], ['detach']]) {
      const [verb, ...rest] = args;
      const result = await sandbox.hostAgent([verb as string, String(guest.pid), ...rest]);
      assert.equal(result.exitCode, 0, result.stderr);
    }
    const mine = (line: Line) => line.guest === `pid ${guest.pid}`;
    const [attached, forwarding, stopped, detached] = await logged(daemon, mine, 4);
    const a = assertEvent(attached, 'attached', guest);
    assert.deepEqual([a.hostIf, a.address, a.guestAgent, a.agent], ['vm_wlan', '172.17.3.3/16', 'confirmed', 'host']);
    assert.ok((a.changes as number) > 0);
    assert.equal(assertEvent(forwarding, 'forwarding to', guest).forwards, '5555->5555/tcp');
    assert.equal(assertEvent(stopped, 'stopped forwarding to', guest).forwards, 'none');
    assert.ok((assertEvent(detached, 'detached', guest).changes as number) > 0);
  });

  it('five attaches, then detach --all: five lines and one', async () => {
    const guests = await Promise.all([1, 2, 3, 4, 5].map(() => sandbox.startGuest()));
    for (const g of guests) assert.equal((await sandbox.hostAgent(['attach', String(g.pid)])).exitCode, 0);
    assert.equal((await sandbox.hostAgent(['detach', '--all'])).exitCode, 0);
    for (const g of guests) assertEvent((await logged(daemon, (l) => l.guest === `pid ${g.pid}`))[0], 'attached', g);
    const [all] = await logged(daemon, (line) => line.message === 'detached every guest');
    assertEvent(all, 'detached every guest', undefined);
    assert.equal(all?.guests, 5);
    assert.deepEqual(String(all?.ids).split(' ').sort(), guests.map((g) => String(g.pid)).sort());
  });

  it('a guest that died is reaped with a line; a failed attach is a warning with its error', async () => {
    const doomed = await sandbox.startGuest();
    assert.equal((await sandbox.hostAgent(['attach', String(doomed.pid)])).exitCode, 0);
    await doomed.kill();
    const [reaped] = await logged(daemon, (line) => line.message === 'reaped the gone guest');
    assert.equal(assertEvent(reaped, 'reaped the gone guest', doomed).hostIf, 'vm_wlan');

    const silent = await sandbox.startGuest({ agent: false });
    assert.notEqual((await sandbox.hostAgent(['attach', String(silent.pid), '--timeout', '500'])).exitCode, 0);
    const [failed] = await logged(daemon, (line) => line.message === 'attach failed for');
    assert.equal(assertEvent(failed, 'attach failed for', silent).level, 'warn');
    assert.match(JSON.stringify(failed?.error), /did not confirm within 500 ms/);
  });

  it('a refused guest session is a line too', async () => {
    const socket = connect(sandbox.socket);
    socket.on('error', () => {});
    socket.write(encodeFrame({ type: 'constructor' }));
    await logged(daemon, (line) => line.message === 'guest connection rejected' && line.level === 'warn');
    socket.destroy();
  });

  it('--log-format human: lines a person reads, with the time, the guest and the duration', async () => {
    await daemon.stop('SIGTERM');
    daemon = await sandbox.startDaemon(['--log-format', 'human']);
    const guest = await sandbox.startGuest();
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid)])).exitCode, 0);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    const started = Date.now();
    while (!/ detached pid /.test(daemon.output()) && Date.now() - started < SETTLE_GUARD_MS) await new Promise((r) => setTimeout(r, 50));
    const lines = daemon.output().split('\n');
    const time = '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z';
    const details = 'hostIf=vm_wlan uplink=wlan0 address=172\\.17\\.3\\.3/16 guestAgent=confirmed changes=\\d+';
    const attached = new RegExp(`^${time} info  attached pid ${guest.pid} in \\d+ ms: ${details}$`);
    assert.ok(
      lines.some((line) => attached.test(line)),
      daemon.output(),
    );
    assert.ok(
      lines.some((line) => new RegExp(`info  detached pid ${guest.pid} in \\d+ ms: changes=\\d+$`).test(line)),
      daemon.output(),
    );
    assert.ok(!lines.some((line) => line.startsWith('{')), 'a JSON line in the human log');
  });
});
