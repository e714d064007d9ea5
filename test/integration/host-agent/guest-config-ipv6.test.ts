import assert from 'node:assert/strict';
import type { GuestStatus } from '@guestnet/host-agent';
import { slaacAddressOf } from '@guestnet/host-agent';
import { attachDhcpGuest } from '../../fixtures/dhcp-guests.js';
import { startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { type Daemon, type FirewallName, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// IPv6 for a --guest-config dhcp guest (issue 29): the daemon's radvd
// advertises the pool's /64 on the guest's link, and the guest's own kernel
// (no agent, no client) forms its address by SLAAC and takes the host end as
// its default router. The host knew that address at attach: it routes,
// checks and masquerades it like any guest's. No router advertisement of
// ours reaches the uplink, and radvd goes with the last such guest.

/**
 * Counts router advertisements arriving on the LAN side of the uplink from
 * another MAC than its own (the LAN router's own multicasts loop back there):
 * the host must send none.
 */
const raCounter = (lanMac: string) => `table netdev gn_ra_watch {
  chain ingress { type filter hook ingress device uplink0 priority 0; ether saddr != ${lanMac} icmpv6 type nd-router-advert counter; }
}`;

/** How many radvd processes run with this daemon's config (radvd forks a privilege-separated child). */
const radvdRunning = async (sandbox: Sandbox) =>
  (await sandbox.host(['pgrep', '-f', `radvd .*${sandbox.stateDir}/radvd.conf`])).stdout.split('\n').filter(Boolean).length;

for (const firewall of ['nftables', 'iptables'] as FirewallName[]) {
  describe(`a dhcp guest's IPv6 by SLAAC from the daemon's radvd (${firewall})`, function () {
    this.timeout(120_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let pristine: string;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      await startRaUplink(sandbox);
      const lanMac = JSON.parse((await sandbox.inet(['ip', '-j', 'link', 'show', 'dev', 'uplink0'])).stdout)[0].address;
      assert.equal((await sandbox.inet(['nft', '-f', '-'], raCounter(lanMac))).exitCode, 0);
      pristine = await sandbox.hostSnapshot();
      daemon = await sandbox.startDaemon();
    });
    after(async () => {
      await daemon?.stop();
      await sandbox?.destroy();
    });

    it("the guest's kernel takes the address attach chose and a default route via the host end, and reaches an IPv6 server", async () => {
      const guest = await sandbox.startGuest({ agent: false });
      const attachment = await attachDhcpGuest(sandbox, guest);
      const address = attachment.ipv6?.guestAddress as string;
      assert.equal(address, slaacAddressOf(address ?? '::', attachment.guestMac), JSON.stringify(attachment.ipv6));
      let global: Array<{ local: string; tentative?: boolean }> = [];
      for (let end = Date.now() + SETTLE_GUARD_MS; Date.now() < end && !global.some((a) => a.local === address && !a.tentative); ) {
        await new Promise((r) => setTimeout(r, 100));
        const shown = JSON.parse((await guest.exec(['ip', '-6', '-j', 'address', 'show', 'dev', 'eth0', 'scope', 'global'])).stdout);
        global = shown[0]?.addr_info ?? [];
      }
      assert.deepEqual(
        global.flatMap((a) => (a.local === undefined ? [] : [a.local])),
        [address],
        'its kernel formed exactly the address the host routes',
      );
      assert.match((await guest.exec(['ip', '-6', 'route', 'show', 'default'])).stdout, /^default via fe80::\S+ dev eth0 proto ra/);
      let seen = '';
      for (let end = Date.now() + SETTLE_GUARD_MS; Date.now() < end && !seen.includes(':'); )
        seen = (await sandbox.fetch6FromGuest(guest, 500)).stdout.trim();
      assert.match(seen, /^2001:db8:1:/, "the server sees the host's uplink address: NAT66");
      // radvd and its privilege-separated child.
      assert.ok((await radvdRunning(sandbox)) > 0, 'the daemon runs radvd');
      const [shown] = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as GuestStatus[];
      assert.equal(shown?.ipv6?.address, address);

      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      let running = 1;
      for (let end = Date.now() + SETTLE_GUARD_MS; Date.now() < end && running !== 0; await new Promise((r) => setTimeout(r, 50)))
        running = await radvdRunning(sandbox);
      assert.equal(running, 0, 'radvd goes with the last dhcp guest with IPv6');
      await guest.kill();
    });

    it('no router advertisement of ours reached the uplink, and the host is as it was', async () => {
      const counted = (await sandbox.inet(['nft', 'list', 'table', 'netdev', 'gn_ra_watch'])).stdout;
      assert.deepEqual(
        [...counted.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1])),
        [0],
      );
      await daemon.stop();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
}
