import assert from 'node:assert/strict';
import type { GuestStatus } from '@guestnet/host-agent';
import { attachDhcpGuest, spawnInGuest, startClient, stopClients } from '../../fixtures/dhcp-guests.js';
import { type Daemon, type FirewallName, type Guest, NODE, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// A host on the uplink's LAN, with no address (as a DHCP client is), sends
// DHCP requests that carry a dhcp guest's MAC as chaddr. The guest's MAC is
// no secret: it follows from its address. Issue 29: "a request that did not
// arrive on a guest link is ignored". It must not end the guest's lease, nor
// spend the guest's request budget so that the guest's own client gets no
// answer. On iptables the chaddr is read with `-m u32`, as nftables reads it
// with a raw payload expression.

const RELEASE_OR_DISCOVER = `
const s = require('node:dgram').createSocket('udp4');
const [mac, address, count, type] = process.argv.slice(1);
const packet = () => {
  const b = Buffer.alloc(240);
  b[0] = 1; b[1] = 1; b[2] = 6;
  require('node:crypto').randomBytes(4).copy(b, 4);
  if (type === '7') Buffer.from(address.split('.').map(Number)).copy(b, 12);
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  return Buffer.concat([b, Buffer.from([53, 1, Number(type), 255])]);
};
s.bind(68, () => {
  s.setBroadcast(true);
  let n = 0;
  const tick = () => {
    if (n++ >= Number(count)) return s.close();
    s.send(packet(), 67, '255.255.255.255');
    setTimeout(tick, 100);
  };
  console.log('sending');
  tick();
});`;

for (const firewall of ['nftables', 'iptables'] as FirewallName[]) {
  describe(`a LAN host forging a dhcp guest's MAC (${firewall})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let victim: Guest;
    let lanHost: Guest;
    let address: string;
    let mac: string;
    const statusOf = async (guest: Guest) =>
      (JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as GuestStatus[]).find((g) => g.pid === guest.pid);

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      daemon = await sandbox.startDaemon();
      victim = await sandbox.startGuest({ agent: false });
      const attachment = await attachDhcpGuest(sandbox, victim);
      address = attachment.guestAddress;
      mac = (await statusOf(victim))?.mac as string;
      // The LAN host: a netns of its own on the uplink's LAN side, with no IPv4 address, as a DHCP client is.
      lanHost = await sandbox.startGuest({ agent: false });
      const lan = 'link add lanhost link uplink0 type macvlan mode bridge\n';
      assert.equal((await sandbox.inet(['ip', '-batch', '-'], lan)).exitCode, 0);
      assert.equal((await sandbox.inet(['ip', 'link', 'set', 'lanhost', 'netns', String(lanHost.pid)])).exitCode, 0);
      await lanHost.exec(['ip', 'link', 'set', 'lanhost', 'up']);
      await lanHost.exec(['ip', 'route', 'replace', 'default', 'dev', 'lanhost']);
    });
    afterEach(stopClients);
    after(async () => {
      await stopClients();
      await daemon?.stop();
      await sandbox?.destroy();
    });

    it("a forged RELEASE from the LAN does not end the guest's lease", async () => {
      const client = await startClient(sandbox, victim, 'udhcpc');
      await client.waitFor(/^bound /, SETTLE_GUARD_MS);
      assert.equal((await statusOf(victim))?.dhcp?.state, 'bound');
      const sent = await spawnInGuest(lanHost, [NODE, '-e', RELEASE_OR_DISCOVER, mac, address, '3', '7']);
      assert.equal(sent.exitCode, 0, sent.stderr as string);
      // Give the daemon the time a RELEASE takes to be heard, then look: still bound.
      let state = '';
      for (let i = 0; i < 20 && state !== 'released'; i++, await new Promise((r) => setTimeout(r, 50)))
        state = (await statusOf(victim))?.dhcp?.state ?? '';
      assert.equal(state, 'bound', "a LAN host's RELEASE ended the guest's lease");
    });

    it("DISCOVERs from the LAN with the guest's MAC do not starve the guest's own client", async () => {
      await victim.exec(['ip', '-4', 'address', 'flush', 'dev', 'eth0']);
      const flood = spawnInGuest(lanHost, [NODE, '-e', RELEASE_OR_DISCOVER, mac, address, '400', '1']);
      flood.catch(() => {});
      await new Promise((resolve) => flood.stdout?.once('data', resolve));
      await new Promise((r) => setTimeout(r, 1500));
      const own = await victim.exec(['busybox', 'udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', '/bin/true', '-t', '4', '-T', '1']);
      flood.kill('SIGKILL');
      assert.equal(own.exitCode, 0, `the guest's own client got no lease while the LAN spoofed its MAC: ${own.stderr}`);
    });
  });
}
