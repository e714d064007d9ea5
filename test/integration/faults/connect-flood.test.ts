import assert from 'node:assert/strict';
import { Sandbox } from '../../fixtures/sandbox.js';

// A guest that connects to the guest socket and hangs up at once, in a tight
// loop, must not buy the daemon's work with it: beyond a calm rate for
// everyone, each netns is held to its own rate, and what goes beyond it is
// closed unread. The flood is counted, not timed: the connections the daemon
// worked on (each logged as rejected, a line or a count in the next line) are
// checked against what the rates allow over however long the flood ran, and
// its lines against the log of that length. Another guest attaches meanwhile.

const CONNECTIONS = 40_000;
const LOOPS = 16;
// GATE_LIMITS in host-agent/src/daemon/guests.ts: everyone's calm rate, and one netns' own.
const ALLOWED = { burst: 256 + 32, perSecond: 64 + 8 };
const FLOOD = `
const net = require('node:net');
const started = Date.now();
let connected = 0;
let running = ${LOOPS};
function one() {
  if (connected >= ${CONNECTIONS}) {
    if (--running === 0) console.log(JSON.stringify({ connected, seconds: (Date.now() - started) / 1000 }));
    return;
  }
  const socket = net.connect(process.argv[1]);
  socket.on('connect', () => { connected++; socket.destroy(); });
  socket.on('error', () => {});
  socket.on('close', () => setImmediate(one));
}
console.log('started');
for (let i = 0; i < ${LOOPS}; i++) one();`;

type Line = { message?: string; level?: string; suppressed?: number };

describe('faults: a guest that connects and hangs up in a loop is held to its netns rate', function () {
  this.timeout(240_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it('works on few of its connections, logs few lines, and another guest still attaches', async () => {
    const pristine = await sandbox.hostSnapshot();
    const daemon = await sandbox.startDaemon();
    const flooder = await sandbox.startGuest({ agent: false });
    const flood = flooder.spawn(['node', '-e', FLOOD, sandbox.socket]);
    let output = '';
    flood.stdout?.on('data', (chunk: Buffer) => (output += chunk));
    for (let i = 0; i < 400 && !output.includes('started'); i++) await new Promise((r) => setTimeout(r, 25));

    const guest = await sandbox.startGuest();
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.match(attached.stdout, /guest agent confirmed wlan0/);
    const status = await sandbox.hostAgent(['status', '--json']);
    assert.equal(status.exitCode, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).guests.length, 1);

    await flood;
    const summary = JSON.parse(output.trim().split('\n').at(-1) as string) as { connected: number; seconds: number };
    assert.equal(summary.connected >= CONNECTIONS, true, output);
    const lines = daemon
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Line);
    const warnings = lines.filter((line) => line.level === 'warn');
    // Half as much again as the rates allow over the flood's run, so that no slow moment decides.
    const allowed = ALLOWED.burst + Math.ceil(ALLOWED.perSecond * summary.seconds * 1.5);
    const workedOn = warnings
      .filter((line) => line.message === 'guest connection rejected')
      .reduce((sum, line) => sum + 1 + (line.suppressed ?? 0), 0);
    const context = `${JSON.stringify(summary)}\n${warnings.map((w) => JSON.stringify(w)).join('\n')}`;
    assert.ok(workedOn <= allowed, `the daemon worked on ${workedOn} of the flood's connections, its rates allow ${allowed}: ${context}`);
    assert.ok(
      warnings.some((line) => line.message === 'guest connections beyond their netns rate'),
      `the flood was never held to its rate: ${context}`,
    );
    // Four limiters, each writing lines twice as far apart while the flood goes on.
    const maxLines = 4 * (Math.ceil(Math.log2(summary.seconds + 1)) + 2);
    assert.ok(
      warnings.length <= maxLines,
      `${warnings.length} warnings for a flood of ${summary.seconds} s, at most ${maxLines}: ${context}`,
    );

    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await daemon.stop();
    await guest.kill();
    await flooder.kill();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
