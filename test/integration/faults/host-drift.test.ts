import assert from 'node:assert/strict';
import { ExitCode } from '@guestnet/protocol';
import { Sandbox, UPLINK } from '../../fixtures/sandbox.js';

// What the host changes behind the daemon's back: ip_forward turned off is
// put back and shown, and doctor judges the backend the guests actually use.

async function until(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('faults: the host changes under the guests', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it('status shows a guest that cannot be online while ip_forward is off, and the daemon turns it back on', async () => {
    const guest = await sandbox.startGuest();
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid)])).exitCode, 0);
    await sandbox.host(['sysctl', '-qw', 'net.ipv4.ip_forward=0']);
    const status = await sandbox.hostAgent(['status']);
    assert.match(status.stdout, new RegExp(`pid ${guest.pid}: CANNOT BE ONLINE: net.ipv4.ip_forward is 0`));
    assert.equal(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests[0].blocked, 'net.ipv4.ip_forward is 0');
    const daemon = await sandbox.startDaemon();
    await until(
      'ip_forward back on',
      10_000,
      async () => (await sandbox.host(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim() === '1',
    );
    assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
    assert.equal(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests[0].blocked, null);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await daemon.stop();
    await guest.kill();
  });

  it('doctor fails on an iptables FORWARD drop when the guests are on nftables', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait', '--firewall', 'nftables'])).exitCode, 0);
    assert.equal((await sandbox.host(['iptables', '-P', 'FORWARD', 'DROP'])).exitCode, 0);
    try {
      const doctor = await sandbox.hostAgent(['doctor']);
      assert.equal(doctor.exitCode, ExitCode.doctorFailed, doctor.stdout);
      assert.match(doctor.stdout, /nftables \(in use by the attached guests\)/);
      assert.match(doctor.stdout, /\[FAIL\] forward: ip filter FORWARD has policy drop/);
      assert.doesNotMatch(doctor.stdout, /jump at position 1 comes first/);
    } finally {
      await sandbox.host(['iptables', '-P', 'FORWARD', 'ACCEPT']);
      await sandbox.hostAgent(['detach', String(guest.pid)]);
      await guest.kill();
    }
  });
});
