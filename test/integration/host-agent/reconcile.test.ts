import assert from 'node:assert/strict';
import { FIREWALLS, type Guest, Sandbox, SECOND_UPLINK, SETTLE_GUARD_MS, UPLINK } from '../../fixtures/sandbox.js';

// The daemon's reconcile loop, on every backend: the uplink follows the
// default route, and rules a firewall reload flushed come back.
for (const firewall of FIREWALLS)
  describe(`host-agent serve keeps guests online as the host changes (${firewall})`, function () {
    this.timeout(60_000);
    let sandbox: Sandbox;
    let guest: Guest;
    let pristine: string;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      await sandbox.addSecondUplink();
      pristine = await sandbox.hostSnapshot();
      await sandbox.startDaemon();
      guest = await sandbox.startGuest();
      assert.equal((await sandbox.hostAgent(['attach', String(guest.pid)])).exitCode, 0);
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
    });
    after(async () => sandbox?.destroy());

    it('follows the default route to another uplink, and back, without re-attaching', async () => {
      await sandbox.host(['ip', 'route', 'replace', 'default', 'via', SECOND_UPLINK.inetAddress, 'dev', SECOND_UPLINK.name]);
      const moved = await sandbox.seenFromGuestWithin(guest, SECOND_UPLINK.hostAddress, SETTLE_GUARD_MS);
      assert.equal(moved, SECOND_UPLINK.hostAddress, 'new connections do not leave by the new uplink');
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests[0];
      assert.equal(status.uplink, SECOND_UPLINK.name);
      assert.equal(status.agent, 'connected');
      await sandbox.host(['ip', 'route', 'replace', 'default', 'via', UPLINK.inetAddress, 'dev', 'wlan0']);
      assert.equal(await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS), UPLINK.hostAddress);
    });

    it('puts its rules back after a firewall reload flushed them', async () => {
      const flush =
        firewall === 'nftables'
          ? [['nft', 'delete', 'table', 'ip', 'guestnet']]
          : [
              [firewall, '-w', '-D', 'FORWARD', '-j', 'GUESTNET-FORWARD'],
              [firewall, '-w', '-F', 'GUESTNET-FORWARD'],
            ];
      for (const argv of flush) assert.equal((await sandbox.host(argv)).exitCode, 0);
      assert.equal(
        await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS),
        UPLINK.hostAddress,
        'the guest stayed offline',
      );
    });

    it('detach still leaves the host exactly as it was', async () => {
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
