import assert from 'node:assert/strict';
import { GUEST_AGENT, NODE_FLAGS, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

// A timed-out attach undoes only what is still its own, judged against the
// state as it is when it gives up, not against the plan it made earlier.

describe('faults: a timed-out attach never undoes what others now use', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => sandbox?.destroy());

  const ipForward = async () => (await sandbox.host(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim();

  it("keeps ip_forward and the table for a guest that came online during another's wait", async () => {
    const daemon = await sandbox.startDaemon();
    const silent = await sandbox.startGuest({ agent: false });
    const timingOut = sandbox.hostAgent(['attach', String(silent.pid), '--timeout', '4000']);
    await new Promise((r) => setTimeout(r, 1000));
    const online = await sandbox.startGuest();
    assert.equal((await sandbox.hostAgent(['attach', String(online.pid)])).exitCode, 0);
    assert.equal((await timingOut).exitCode, 10);
    assert.equal(await ipForward(), '1');
    assert.equal((await sandbox.fetchFromGuest(online)).stdout.trim(), UPLINK.hostAddress);
    assert.equal((await sandbox.host(['nft', 'list', 'table', 'ip', 'guestnet'])).exitCode, 0);
    assert.equal((await sandbox.hostAgent(['detach', String(online.pid)])).exitCode, 0);
    await Promise.all([silent.kill(), online.kill()]);
    await daemon.stop();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('leaves alone the attachment a detach and a new attach of the same pid made meanwhile', async () => {
    const daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest({ agent: false });
    const first = sandbox.hostAgent(['attach', String(guest.pid), '--timeout', '6000']);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    const agent = guest.spawn(['node', ...NODE_FLAGS, GUEST_AGENT, 'run', '--socket', sandbox.socket, ...guest.files]);
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid)])).exitCode, 0);
    assert.equal((await first).exitCode, 10);
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
    assert.deepEqual(
      status.guests.map((g: { pid: number }) => g.pid),
      [guest.pid],
    );
    assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    agent.kill();
    await guest.kill();
    await daemon.stop();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
