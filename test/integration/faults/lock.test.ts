import assert from 'node:assert/strict';
import { ExitCode } from '@guestnet/protocol';
import { type Guest, Sandbox } from '../../fixtures/sandbox.js';

// The state lock is released by the kernel when its holder dies, so parallel
// attaches after a kill -9 never run two writers at once; and a one-shot
// attach holds it for the host's changes, not for its wait.

const holdAndDie = (stateDir: string) => `
import { writeSync } from 'node:fs';
import { withStateLock } from '@guestnet/host-agent';
await withStateLock(${JSON.stringify(stateDir)}, async () => { writeSync(1, 'held\\n'); process.kill(process.pid, 'SIGKILL'); });`;

describe('faults: the state lock', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it('12 parallel attaches right after a lock holder was killed get 12 distinct addresses and links', async () => {
    const died = await sandbox.host(['node', '--input-type=module', '-e', holdAndDie(sandbox.stateDir)]);
    assert.equal(died.stdout.trim(), 'held');
    const guests: Guest[] = [];
    for (let i = 0; i < 12; i++) guests.push(await sandbox.startGuest({ agent: false }));
    const results = await Promise.all(guests.map((g) => sandbox.hostAgent(['attach', String(g.pid), '--no-wait', '--json'])));
    for (const result of results) assert.equal(result.exitCode, 0, result.stderr);
    const attachments = results.map((r) => JSON.parse(r.stdout).attachment);
    assert.equal(new Set(attachments.map((a) => a.guestAddress)).size, 12);
    assert.equal(new Set(attachments.map((a) => a.hostIf)).size, 12);
    const detached = await Promise.all(guests.map((g) => sandbox.hostAgent(['detach', String(g.pid)])));
    for (const result of detached) assert.equal(result.exitCode, 0, result.stderr);
    await Promise.all(guests.map((g) => g.kill()));
  });

  it('a one-shot attach waiting for its guest does not block a detach, and does not log other agents reconnecting', async () => {
    const other = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(other.pid), '--no-wait'])).exitCode, 0);
    const silent = await sandbox.startGuest({ agent: false });
    let settled = false;
    const waiting = sandbox.hostAgent(['attach', String(silent.pid), '--timeout', '15000']).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 1500));
    // An agent of the other guest connects and is turned away while this attach waits.
    await sandbox.rawGuest(other, 'own');
    const detach = await sandbox.hostAgent(['detach', String(other.pid)]);
    assert.equal(detach.exitCode, 0, detach.stderr);
    assert.equal(settled, false, 'the detach waited for the attach to finish');
    const result = await waiting;
    assert.equal(result.exitCode, ExitCode.guestTimeout);
    assert.doesNotMatch(result.stderr, /guest connection rejected/);
    await Promise.all([other.kill(), silent.kill()]);
  });
});
