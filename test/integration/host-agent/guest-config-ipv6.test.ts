import assert from 'node:assert/strict';
import type { GuestStatus } from '@guestnet/host-agent';
import { slaacAddressOf } from '@guestnet/host-agent';
import { attachDhcpGuest } from '../../fixtures/dhcp-guests.js';
import { startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { type Daemon, type FirewallName, type Guest, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// IPv6 for a --guest-config dhcp guest (issue 29): the daemon's radvd
// advertises the pool's /64 on the guest's link, and the guest's own kernel
// (no agent, no client) forms its address by SLAAC and takes the host end as
// its default router. The host knew that address at attach: it routes,
// checks and masquerades it like any guest's. No router advertisement of
// ours reaches the uplink, and radvd goes with the last such guest. The
// advertisements name the host end's IPv6 gateway as RDNSS, where the daemon's
// DNS forwarder answers the guest, and nobody from the uplink side.

// A resolver "out on the internet", the host's own: it answers every A query with ANSWER, over UDP and TCP,
// and prints a line for each UDP query it hears.
const UPSTREAM = '203.0.113.53';
const ANSWER = '192.0.2.80';
const DNS_SERVER = `
const answerTo = (q) => {
  let end = 12;
  while (q[end]) end += q[end] + 1;
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${ANSWER.split('.').join(', ')}]);
  return Buffer.concat([header, q.subarray(12, end + 5), record]);
};
const d = require('node:dgram').createSocket('udp4');
d.on('message', (q, peer) => { console.log('query'); d.send(answerTo(q), peer.port, peer.address); });
require('node:net').createServer((s) => {
  s.on('error', () => {});
  s.once('data', (b) => { const a = answerTo(b.subarray(2)); s.end(Buffer.concat([Buffer.from([a.length >> 8, a.length & 255]), a])); });
}).listen(53, '${UPSTREAM}');
d.bind(53, '${UPSTREAM}', () => console.log('ready'));`;

/** One lookup of device.example at `server` over UDP, from `local` if given; prints the answer or the error code. */
const lookup = (server: string, { local = '' } = {}) => `
const r = new (require('node:dns').promises.Resolver)({ timeout: 1500, tries: 1 });
r.setServers(['[${server}]:53']);
${local ? `r.setLocalAddress('0.0.0.0', '${local}');` : ''}
r.resolve4('device.example').then((a) => console.log(JSON.stringify(a)), (e) => console.log(e.code));`;

// A query for device.example over TCP, as a stub resolver falls back to after a truncated answer; prints the A record.
const tcpLookup = (server: string) => `
const q = Buffer.concat([
  Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 6]), Buffer.from('device'), Buffer.from([7]), Buffer.from('example'),
  Buffer.from([0, 0, 1, 0, 1]),
]);
const s = require('node:net').connect(53, '${server}', () => s.write(Buffer.concat([Buffer.from([0, q.length]), q])));
let got = Buffer.alloc(0);
s.on('data', (b) => {
  got = Buffer.concat([got, b]);
  if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) { console.log(JSON.stringify([[...got.subarray(-4)].join('.')])); process.exit(0); }
});
s.on('error', (e) => { console.log(e.code); process.exit(0); });
setTimeout(() => { console.log('ETIMEOUT'); process.exit(0); }, 3000);`;

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
    let hostUplink6: string;
    /** How many UDP queries the host's resolver heard: each one the forwarder passed on. */
    let upstreamQueries = () => 0;

    /** Waits until the guest's kernel has formed `address` (not tentative); resolves to its global addresses. */
    const formed = async (guest: Guest, address: string): Promise<string[]> => {
      let global: Array<{ local: string; tentative?: boolean }> = [];
      for (let end = Date.now() + SETTLE_GUARD_MS; Date.now() < end && !global.some((a) => a.local === address && !a.tentative); ) {
        await new Promise((r) => setTimeout(r, 100));
        const shown = JSON.parse((await guest.exec(['ip', '-6', '-j', 'address', 'show', 'dev', 'eth0', 'scope', 'global'])).stdout);
        global = shown[0]?.addr_info ?? [];
      }
      return global.flatMap((a) => (a.local === undefined ? [] : [a.local]));
    };

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      hostUplink6 = await startRaUplink(sandbox);
      await sandbox.inet(['ip', 'address', 'add', `${UPSTREAM}/32`, 'dev', 'lo']);
      const upstream = sandbox.serveIn(sandbox.inetNs, ['node', '-e', DNS_SERVER]);
      await new Promise<void>((resolve) => upstream.stdout?.once('data', () => resolve()));
      let heard = '';
      upstream.stdout?.on('data', (chunk) => (heard += chunk));
      upstreamQueries = () => heard.split('\n').filter((line) => line === 'query').length;
      await sandbox.setHostResolvConf(`nameserver ${UPSTREAM}\n`);
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
      assert.deepEqual(await formed(guest, address), [address], 'its kernel formed exactly the address the host routes');
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

    it("names the host end's IPv6 gateway as RDNSS, where the daemon's forwarder answers the guest and nobody from the uplink", async () => {
      const guest = await sandbox.startGuest({ agent: false });
      const attachment = await attachDhcpGuest(sandbox, guest);
      const address = attachment.ipv6?.guestAddress as string;
      assert.deepEqual(await formed(guest, address), [address]);
      // The RA as the guest receives it, decoded: rdisc6 solicits one and prints its options.
      const solicited = await guest.exec(['rdisc6', '-1', '-r', '5', '-w', '1000', 'eth0']);
      const rdnss = [...solicited.stdout.matchAll(/Recursive DNS server\s*:\s*(\S+)/g)].map((m) => m[1] as string);
      assert.equal(rdnss.length, 1, solicited.stdout + solicited.stderr);
      const [server = ''] = rdnss;
      assert.match(server, /^fd[0-9a-f]{2}:/, 'an address of the pool: the host end of the guest link');
      assert.equal((await guest.exec(['node', '-e', lookup(server)])).stdout.trim(), JSON.stringify([ANSWER]), 'over UDP');
      assert.equal((await guest.exec(['node', '-e', tcpLookup(server)])).stdout.trim(), JSON.stringify([ANSWER]), 'over TCP');

      // From the uplink's side the gateway answers nobody, and a sender that claims the guest's address (whose answer
      // would go to the guest) gets nothing passed on to the host's resolver either.
      assert.equal((await sandbox.inet(['ip', '-6', 'route', 'add', `${server}/128`, 'via', hostUplink6])).exitCode, 0);
      assert.equal((await sandbox.inet(['node', '-e', lookup(server)])).stdout.trim(), 'ETIMEOUT');
      assert.equal((await sandbox.inet(['ip', '-6', 'address', 'add', `${address}/128`, 'dev', 'lo', 'nodad'])).exitCode, 0);
      const before = upstreamQueries();
      assert.equal((await sandbox.inet(['node', '-e', lookup(server, { local: address })])).stdout.trim(), 'ETIMEOUT');
      assert.equal(upstreamQueries(), before, 'the forwarder never heard the forged query');
      await sandbox.inet(['ip', '-6', 'address', 'del', `${address}/128`, 'dev', 'lo']);

      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
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
