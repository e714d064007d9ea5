import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../../fixtures/sandbox.js';

// A guest that opens sessions with its own token as fast as it can must not
// buy the daemon's CPU with them: each netns pays for its sessions from a
// budget of its own (16 at once, then 4 a second), and what goes beyond it is
// refused before any work, the answer held back a while. The loop is counted,
// not timed: the sessions it got are checked against what its budget allows
// over however long it ran, and another guest's attach gets through meanwhile.

const LOOP = fileURLToPath(new URL('../../fixtures/session-loop.js', import.meta.url));
const ATTEMPTS = 240;
const BUDGET = { burst: 16, perSecond: 4 };

describe("faults: a guest's session loop is held to its netns' budget", function () {
  this.timeout(180_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it('refuses what is beyond the budget, and another guest still attaches', async () => {
    const daemon = await sandbox.startDaemon();
    const looper = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(looper.pid), '--no-wait'])).exitCode, 0);
    const loop = looper.spawn(['node', LOOP, sandbox.socket, String(ATTEMPTS), '8']);
    let output = '';
    loop.stdout?.on('data', (chunk: Buffer) => (output += chunk));
    for (let i = 0; i < 400 && !output.includes('started'); i++) await new Promise((r) => setTimeout(r, 25));

    const other = await sandbox.startGuest();
    const attached = await sandbox.hostAgent(['attach', String(other.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.match(attached.stdout, /guest agent confirmed wlan0/);

    await loop;
    const summary = JSON.parse(output.split('\n').filter(Boolean).at(-1) as string) as {
      attempts: number;
      configured: number;
      refused: Record<string, number>;
      dropped: number;
      seconds: number;
    };
    assert.equal(summary.attempts, ATTEMPTS);
    // Half as much again as the budget allows over the loop's run, so that no slow moment decides.
    const allowed = BUDGET.burst + Math.ceil(BUDGET.perSecond * summary.seconds * 1.5);
    assert.ok(
      summary.configured <= allowed,
      `the loop got ${summary.configured} sessions, its budget ${allowed}: ${JSON.stringify(summary)}`,
    );
    assert.ok((summary.refused.busy ?? 0) > 0, `the loop was never refused: ${JSON.stringify(summary)}`);
    assert.match(daemon.output(), /too many sessions from this netns/);
    assert.equal(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.length, 2);
    await daemon.stop();
  });
});
