import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '@guestnet/protocol';
import { type Guest, HOST_AGENT, NODE, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// An attach whose guest agent never confirms is rolled back; here `ip link
// del`, the rollback's removal of the host link, hangs until the command's
// deadline kills it. The record must outlive the failed undo: it is kept,
// marked as undoing, so that the daemon's next reconcile pass, or a detach
// without a daemon, removes what is left. The hang is made at the process
// boundary: a wrapper earlier on PATH blocks a link deletion while a flag
// file exists, and otherwise execs the real ip.

const DEADLINE_MS = 3000;

describe('faults: ip hangs while an attach is rolled back', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  let pristine: string;
  let env: string;
  let flag: string;
  let guest: Guest;

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
    const bin = join(sandbox.dir, 'bin');
    flag = join(sandbox.dir, 'hang-link-del');
    await mkdir(bin);
    const ip = (await sandbox.host(['sh', '-c', 'command -v ip'])).stdout.trim();
    await writeFile(
      join(bin, 'ip'),
      `#!/bin/sh\ncase " $* " in *" link del "*) while [ -e ${flag} ]; do sleep 0.05; done ;; esac\nexec ${ip} "$@"\n`,
    );
    await chmod(join(bin, 'ip'), 0o755);
    env = `PATH=${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
    guest = await sandbox.startGuest({ agent: false });
  });
  after(async () => {
    await rm(flag, { force: true });
    await sandbox?.destroy();
  });

  const taggedLinks = async () =>
    (await sandbox.host(['ip', '-o', 'link', 'show'])).stdout.split('\n').filter((line) => line.includes('guestnet-host:'));
  const guests = async () => JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as unknown[];

  /** An attach that waits for an agent that never comes, while link deletions hang: its rollback fails. */
  async function attachRolledBackHalfway(extra: string[]): Promise<void> {
    await writeFile(flag, '');
    const attached = await sandbox.host([
      'env',
      env,
      NODE,
      HOST_AGENT,
      'attach',
      String(guest.pid),
      '--socket',
      sandbox.socket,
      '--state-dir',
      sandbox.stateDir,
      '--timeout',
      '2000',
      ...extra,
    ]);
    // Checked while deletions still hang: once they do not, a daemon's reconcile pass may finish the removal at any moment.
    try {
      assert.equal(attached.exitCode, ExitCode.guestTimeout, attached.stderr);
      assert.match(attached.stderr, /rolling back also failed: .*ip link del .*timed out/);
      assert.equal((await taggedLinks()).length, 1, 'the hang should have kept the host link');
      assert.equal((await guests()).length, 1, 'the record should stay while what it names is left');
    } finally {
      await rm(flag);
    }
  }

  it("the daemon's next reconcile pass removes what the rollback left", async () => {
    const daemon = await sandbox.startDaemon(['--command-timeout', String(DEADLINE_MS)], HOST_AGENT, { PATH: env.slice(5) });
    await attachRolledBackHalfway([]);
    let left = await taggedLinks();
    for (let waited = 0; waited < SETTLE_GUARD_MS && left.length > 0; waited += 200) {
      await new Promise((r) => setTimeout(r, 200));
      left = await taggedLinks();
    }
    assert.deepEqual(left, [], 'the host link outlived the reconcile');
    assert.deepEqual(await guests(), []);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await daemon.stop();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('without a daemon, a detach removes what the rollback left, and a second detach has nothing to do', async () => {
    await attachRolledBackHalfway(['--command-timeout', String(DEADLINE_MS)]);
    const detached = await sandbox.hostAgent(['detach', String(guest.pid)]);
    assert.equal(detached.exitCode, 0, detached.stderr);
    assert.deepEqual(await taggedLinks(), []);
    assert.deepEqual(await guests(), []);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('a new attach of the same guest removes what the rollback left, then makes its own', async () => {
    await attachRolledBackHalfway(['--command-timeout', String(DEADLINE_MS)]);
    const attached = await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait']);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.equal((await taggedLinks()).length, 1);
    const record = JSON.parse(await readFile(join(sandbox.stateDir, 'attachments', `${guest.pid}.json`), 'utf8'));
    assert.equal(record.undoing, undefined, 'the new attachment is not the one being undone');
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    assert.deepEqual(await taggedLinks(), []);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
