import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '@guestnet/protocol';
import { HOST_AGENT, Sandbox } from '../../fixtures/sandbox.js';

// A launcher that gives up on an attach the daemon serves gets what the
// one-shot path promises: exit 15, and nothing left on the host.

describe('faults: an interrupted attach through the daemon', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it('SIGTERM while waiting for the guest: exit 15 in one line, and the daemon rolls the attach back', async () => {
    const pristine = await sandbox.hostSnapshot();
    const daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest({ agent: false });
    const attach = sandbox.serveIn(sandbox.hostNs, [
      'node',
      HOST_AGENT,
      'attach',
      String(guest.pid),
      '--timeout',
      '20000',
      '--state-dir',
      sandbox.stateDir,
      '--socket',
      sandbox.socket,
    ]);
    for (let i = 0; i < 100; i++) {
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
      if (status.guests.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    attach.kill('SIGTERM');
    const result = await attach;
    assert.equal(result.exitCode, ExitCode.interrupted, String(result.stderr));
    assert.equal(String(result.stderr).trim().split('\n').length, 1, String(result.stderr));
    assert.match(String(result.stderr), /interrupted by SIGTERM while waiting for the guest agent; the host side was rolled back/);
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    await daemon.stop();
    await guest.kill();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});

describe('faults: the daemon killed while an attach waits for its guest', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it("the attach's line and exit code name the daemon's death, not a signal of its own; the next daemon rolls it back", async () => {
    const pristine = await sandbox.hostSnapshot();
    const daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest({ agent: false });
    const attaching = sandbox.hostAgent(['attach', String(guest.pid), '--timeout', '20000']);
    const record = join(sandbox.stateDir, 'attachments', `${guest.pid}.json`);
    for (let i = 0; i < 200 && !(await readFile(record, 'utf8').catch(() => '')).includes('awaitingGuest'); i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal((await daemon.stop('SIGKILL')).signal, 'SIGKILL');
    const result = await attaching;
    assert.equal(result.exitCode, ExitCode.daemonDied, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^host-agent: host-agent serve for \S+ died mid-request/);
    assert.doesNotMatch(result.stderr, /SIGTERM|SIGINT|interrupted/);
    const next = await sandbox.startDaemon();
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    assert.match(next.output(), /removed a dead guest|rolled back/);
    await next.stop();
    await guest.kill();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
