import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { Sandbox, SETTLE_GUARD_MS, UPLINK } from '../../fixtures/sandbox.js';

// A guest is its netns: the process attach was given may exit while others
// keep the netns, and the guest must stay online, through a daemon restart
// too. It is reaped once the netns itself dies.

const gone = (pid: number) =>
  access(`/proc/${pid}`).then(
    () => false,
    () => true,
  );

describe('faults: the attached pid exits while its netns lives on', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it('keeps the guest alive and online, across a daemon restart, and reaps it when the netns dies', async () => {
    const pristine = await sandbox.hostSnapshot();
    const guest = await sandbox.startGuest();
    // A second process in the guest's netns: the one the launcher names.
    const helper = guest.spawn(['sleep', 'infinity']);
    const pid = helper.pid as number;
    let daemon = await sandbox.startDaemon();
    const attached = await sandbox.hostAgent(['attach', String(pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);

    // Its forked sleep keeps the pipes open: wait for the pid, not the pipes.
    helper.catch(() => {});
    helper.kill('SIGKILL');
    for (let i = 0; i < 100 && !(await gone(pid)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(await gone(pid), 'the attached process should have exited');

    const guestsNow = async () =>
      JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as Array<{ pid: number; state: string }>;
    assert.deepEqual(
      (await guestsNow()).map((g) => [g.pid, g.state]),
      [[pid, 'alive']],
    );
    assert.equal(await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS), UPLINK.hostAddress);

    await daemon.stop();
    daemon = await sandbox.startDaemon();
    assert.deepEqual(
      (await guestsNow()).map((g) => [g.pid, g.state]),
      [[pid, 'alive']],
      daemon.output(),
    );
    assert.doesNotMatch(daemon.output(), /removed/);
    assert.equal(await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS), UPLINK.hostAddress);

    // The netns dies with its last process: the daemon reaps the guest.
    await guest.kill();
    let guests = await guestsNow();
    for (let i = 0; i < 100 && guests.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      guests = await guestsNow();
    }
    assert.deepEqual(guests, [], daemon.output());
    await daemon.stop();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
