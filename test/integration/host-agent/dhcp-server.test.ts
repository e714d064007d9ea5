import assert from 'node:assert/strict';
import {
  type Client,
  type DhcpServerProcess,
  dhcpGuestOf,
  floodScript,
  GATEWAY,
  linkGuest,
  spawnInGuest,
  startClient,
  startDhcpServer,
  stopClients,
} from '../../fixtures/dhcp-guests.js';
import { dhcpGuardScript } from '@guestnet/host-agent';
import { type Guest, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// The host's DHCP server for guests with no guest agent (issue 29's
// `--guest-config dhcp`), run from its module with a fixed lookup, answering
// real clients on routed veths: busybox udhcpc and ISC dhclient get their
// lease, route, DNS (through the daemon's forwarder) and MTU, renew and
// release. A LAN host gets nothing, and nothing DHCP ever leaves by the uplink.

// udhcpc takes no lease shorter than 30 s: it renews at 15 s.
const LEASE_SECONDS = 30;
const RESOLVER = { address: '203.0.113.53', answer: '192.0.2.80' };
const HOST_BRIDGE = { router: '10.55.0.1', range: '10.55.0.10,10.55.0.20' };

// One A record for any query: enough DNS to see that the guest's resolver is the forwarder on its gateway.
const DNS_SERVER = `
const d = require('node:dgram').createSocket('udp4');
d.on('message', (q, peer) => {
  let end = 12;
  while (q[end]) end += q[end] + 1;
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${RESOLVER.answer.split('.').join(', ')}]);
  d.send(Buffer.concat([header, q.subarray(12, end + 5), record]), peer.port, peer.address);
});
d.bind(53, '${RESOLVER.address}', () => console.log('ready'));`;

const lookup = (server: string) => `
const r = new (require('node:dns').promises.Resolver)({ timeout: 1500, tries: 2 });
r.setServers(['${server}']);
r.resolve4('device.example').then((a) => console.log(JSON.stringify(a)), (e) => console.log(e.code));`;

/** Counts, on the LAN side of the uplink, every frame carrying UDP from port 67 (a DHCP server's): there must be none. */
const LAN_COUNTER = `table netdev gn_lan_watch {
  chain ingress { type filter hook ingress device uplink0 priority 0; udp sport 67 counter; udp dport 68 counter; }
}`;
const HOST_COUNTER = `table inet gn_uplink_watch {
  chain out { type filter hook postrouting priority 0; oifname "wlan0" udp sport 67 counter; }
}`;

describe('DHCP server for guests: real clients on routed links', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  let server: DhcpServerProcess;
  const guests: Guest[] = [];
  const dhcp = [0, 1, 2, 3].map(dhcpGuestOf);

  before(async () => {
    sandbox = await Sandbox.create();
    assert.equal((await sandbox.inet(['nft', '-f', '-'], LAN_COUNTER)).exitCode, 0);
    assert.equal((await sandbox.host(['nft', '-f', '-'], HOST_COUNTER)).exitCode, 0);
    await sandbox.inet(['ip', 'address', 'add', `${RESOLVER.address}/32`, 'dev', 'lo']);
    const resolver = sandbox.serveIn(sandbox.inetNs, ['node', '-e', DNS_SERVER]);
    resolver.catch(() => {});
    await new Promise((resolve) => resolver.stdout?.once('data', resolve));
    for (const guestDhcp of dhcp) {
      const guest = await sandbox.startGuest({ agent: false });
      await linkGuest(sandbox, guest, guestDhcp);
      guests.push(guest);
    }
    // The host's own DHCP server on a bridge of its own, as lxc-net and Waydroid run dnsmasq: it must keep working.
    const bridge = ['link add lxcbr9 type bridge', `address add ${HOST_BRIDGE.router}/24 dev lxcbr9`, 'link set dev lxcbr9 up', ''];
    assert.equal((await sandbox.host(['ip', '-batch', '-'], bridge.join('\n'))).exitCode, 0);
    const dnsmasq = sandbox.serveIn(sandbox.hostNs, [
      'dnsmasq',
      '--no-daemon',
      '--conf-file=/dev/null',
      '--port=0',
      '--interface=lxcbr9',
      '--bind-interfaces',
      '--user=root',
      `--dhcp-range=${HOST_BRIDGE.range},2m`,
      `--dhcp-leasefile=${sandbox.dir}/lxcbr9.leases`,
      `--pid-file=${sandbox.dir}/lxcbr9.pid`,
    ]);
    dnsmasq.catch(() => {});
    await new Promise((resolve) => dnsmasq.stderr?.once('data', resolve));
    server = await startDhcpServer(sandbox, dhcp, { leaseSeconds: LEASE_SECONDS, dnsUpstream: RESOLVER.address });
  });
  afterEach(stopClients);
  after(async () => {
    await stopClients();
    await sandbox?.destroy();
  });

  /** What the guest's kernel holds after its client applied the lease. */
  async function configured(guest: Guest): Promise<{ addresses: string[]; route: string; mtu: number }> {
    const addresses = JSON.parse((await guest.exec(['ip', '-4', '-j', 'address', 'show', 'dev', 'eth0'])).stdout)[0].addr_info.map(
      (a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`,
    );
    const route = (await guest.exec(['ip', '-4', 'route', 'show', 'default'])).stdout.trim();
    const mtu = JSON.parse((await guest.exec(['ip', '-j', 'link', 'show', 'dev', 'eth0'])).stdout)[0].mtu;
    return { addresses, route, mtu };
  }

  async function leased(guest: Guest, client: Client, index: number): Promise<void> {
    const { address } = dhcp[index] as { address: string };
    const bound = await client.waitFor(/^(bound|BOUND) /, SETTLE_GUARD_MS);
    assert.match(
      bound,
      new RegExp(`ip=${address.replace(/\./g, '\\.')} mask=(16|255\\.255\\.0\\.0) router=${GATEWAY} dns=${GATEWAY} mtu=1400`),
    );
    assert.deepEqual(await configured(guest), { addresses: [`${address}/16`], route: `default via ${GATEWAY} dev eth0`, mtu: 1400 });
    assert.equal((await client.resolvConf()).trim(), `nameserver ${GATEWAY}`);
    // The resolver it was given is the daemon's forwarder: it answers with the host's upstream's answer.
    assert.equal((await guest.exec(['node', '-e', lookup(GATEWAY)])).stdout.trim(), JSON.stringify([RESOLVER.answer]));
  }

  it("udhcpc: the guest's lease, default route, DNS and MTU; it renews at T1; RELEASE ends the lease", async () => {
    const guest = guests[0] as Guest;
    const client = await startClient(sandbox, guest, 'udhcpc', ['-R']);
    await leased(guest, client, 0);
    // T1 is half the lease: udhcpc unicasts a REQUEST from its address, and the server renews.
    await client.waitFor(/^renew /, SETTLE_GUARD_MS);
    await server.waitFor((e) => e.kind === 'renew' && e.link === 'vm_dhcp0', SETTLE_GUARD_MS);
    client.process.kill('SIGUSR2');
    await server.waitFor((e) => e.kind === 'release' && e.link === 'vm_dhcp0', SETTLE_GUARD_MS);
  });

  it("dhclient: the guest's lease, default route, DNS and MTU; it renews; dhclient -r releases", async () => {
    const guest = guests[1] as Guest;
    const client = await startClient(sandbox, guest, 'dhclient');
    await leased(guest, client, 1);
    await client.waitFor(/^RENEW /, SETTLE_GUARD_MS);
    await server.waitFor((e) => e.kind === 'renew' && e.link === 'vm_dhcp1', SETTLE_GUARD_MS);
    const { files } = client;
    const released = await guest.exec([
      'dhclient',
      '-r',
      '-sf',
      files.script,
      '-lf',
      files.leases,
      '-pf',
      files.pid,
      '-cf',
      files.config,
      'eth0',
    ]);
    assert.equal(released.exitCode, 0, released.stderr);
    await server.waitFor((e) => e.kind === 'release' && e.link === 'vm_dhcp1', SETTLE_GUARD_MS);
  });

  it('dhcpcd: the lease, default route, DNS and MTU (on its routes, as dhcpcd applies it); it renews; stopping it releases', async () => {
    const guest = guests[2] as Guest;
    const client = await startClient(sandbox, guest, 'dhcpcd');
    const bound = await client.waitFor(/^BOUND /, SETTLE_GUARD_MS);
    assert.match(bound, new RegExp(`ip=172\\.17\\.3\\.5 mask=255\\.255\\.0\\.0 router=${GATEWAY} dns=${GATEWAY} mtu=1400`));
    const route = (await guest.exec(['ip', '-4', 'route', 'show', 'default'])).stdout;
    assert.match(route, new RegExp(`^default via ${GATEWAY} dev eth0 proto dhcp src 172\\.17\\.3\\.5 metric \\d+ mtu 1400`));
    assert.equal((await client.resolvConf()).trim(), `nameserver ${GATEWAY}`);
    assert.equal((await guest.exec(['node', '-e', lookup(GATEWAY)])).stdout.trim(), JSON.stringify([RESOLVER.answer]));
    await server.waitFor((e) => e.kind === 'renew' && e.link === 'vm_dhcp2', SETTLE_GUARD_MS);
    client.process.kill('SIGTERM');
    await server.waitFor((e) => e.kind === 'release' && e.link === 'vm_dhcp2', SETTLE_GUARD_MS);
    await guest.exec(['ip', '-4', 'address', 'flush', 'dev', 'eth0']);
  });

  /** Packets the counters saw: on the LAN side of the uplink, and leaving the host by it. */
  async function dhcpOnUplink(): Promise<number> {
    const lan = (await sandbox.inet(['nft', 'list', 'table', 'netdev', 'gn_lan_watch'])).stdout;
    const host = (await sandbox.host(['nft', 'list', 'table', 'inet', 'gn_uplink_watch'])).stdout;
    const counts = [...`${lan}\n${host}`.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(counts.length, 3);
    return counts.reduce((a, b) => a + b, 0);
  }

  /** A one-shot udhcpc: exits 0 with a lease, non-zero without. */
  const udhcpcOnce = (
    where: (argv: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>,
    link: string,
    extra: string[] = [],
  ) => where(['busybox', 'udhcpc', '-f', '-q', '-n', '-i', link, '-s', '/bin/true', '-t', '3', '-T', '1', ...extra]);

  it("a LAN host's DISCOVER on the uplink gets nothing, even with a guest's MAC; no DHCP packet leaves by the uplink", async () => {
    const victim = dhcp[3] as { mac: string; link: string };
    const lan = await udhcpcOnce((argv) => sandbox.inet(argv), 'uplink0');
    assert.notEqual(lan.exitCode, 0, lan.stderr);
    assert.doesNotMatch(lan.stderr, /obtained/);
    // A LAN host that takes a guest's MAC: the server answers that guest, on its own link, and the LAN hears nothing.
    const spoof = ['link add lanspoof link uplink0 address', victim.mac, 'type macvlan mode bridge'].join(' ');
    assert.equal((await sandbox.inet(['ip', '-batch', '-'], `${spoof}\nlink set dev lanspoof up\n`)).exitCode, 0);
    const offersBefore = server.events('offer').filter((e) => e.link === victim.link).length;
    const spoofed = await udhcpcOnce((argv) => sandbox.inet(argv), 'lanspoof');
    assert.notEqual(spoofed.exitCode, 0, spoofed.stderr);
    assert.ok(server.events('offer').filter((e) => e.link === victim.link).length > offersBefore, 'the offer went to the guest the MAC is');
    assert.equal(await dhcpOnUplink(), 0);
    await sandbox.inet(['ip', 'link', 'del', 'lanspoof']);
  });

  it("a guest cannot take another guest's address: asking for it gets its own, taking its MAC gets nothing", async () => {
    const [hostile, victim] = [guests[2] as Guest, dhcp[3] as { mac: string; address: string }];
    const asked = await udhcpcOnce((argv) => hostile.exec(argv), 'eth0', ['-r', victim.address]);
    assert.equal(asked.exitCode, 0, asked.stderr);
    assert.match(asked.stderr, new RegExp(`lease of ${(dhcp[2] as { address: string }).address.replace(/\./g, '\\.')} obtained`));
    const own = (await hostile.exec(['ip', '-j', 'link', 'show', 'dev', 'eth0'])).stdout;
    const ownMac = JSON.parse(own)[0].address as string;
    await hostile.exec(['ip', 'link', 'set', 'dev', 'eth0', 'address', victim.mac]);
    const stolen = await udhcpcOnce((argv) => hostile.exec(argv), 'eth0');
    await hostile.exec(['ip', 'link', 'set', 'dev', 'eth0', 'address', ownMac]);
    assert.notEqual(stolen.exitCode, 0, `it got a lease with the victim's MAC: ${stolen.stderr}`);
    assert.equal(await dhcpOnUplink(), 0);
  });

  it('a flood of random-MAC DISCOVERs, junk and stuffed options leaves state bounded, and another guest still gets its lease', async () => {
    const [hostile, victim] = [guests[2] as Guest, guests[3] as Guest];
    // A hostile guest sets what it likes; its own address and a route let it send at all.
    const own = dhcp[2] as { address: string };
    await hostile.exec(['ip', 'address', 'replace', `${own.address}/16`, 'dev', 'eth0']);
    await hostile.exec(['ip', 'route', 'replace', 'default', 'via', GATEWAY, 'dev', 'eth0']);
    const flood = spawnInGuest(hostile, ['node', '-e', floodScript()]);
    flood.catch(() => {});
    for (let i = 0; i < 200 && (await server.stats()).dropped.unknown < 1000; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await server.stats()).dropped.unknown >= 1000, 'the flood reaches the server');
    const client = await startClient(sandbox, victim, 'udhcpc', ['-t', '20']);
    await leased(victim, client, 3);
    flood.kill('SIGKILL');
    const stats = await server.stats();
    assert.ok(stats.dropped.unknown > 1000 && stats.dropped.malformed > 1000, JSON.stringify(stats));
    assert.ok(stats.leases <= dhcp.length && stats.rateBuckets <= dhcp.length, JSON.stringify(stats));
    // Drops are counted, not reported one by one: the flood did not become as many events (log lines).
    assert.ok(server.events('drop').length < 100, `${server.events('drop').length} drop events`);
    assert.equal(await dhcpOnUplink(), 0);
  });

  it("with the kernel guard: a guest flooding with another guest's MAC does not starve it, and a LAN host's spoof never reaches the server", async () => {
    const [hostile, victim, victimDhcp] = [guests[2] as Guest, guests[3] as Guest, dhcp[3] as { mac: string; link: string }];
    const guard = await sandbox.host(['nft', '-f', '-'], dhcpGuardScript(dhcp, true));
    assert.equal(guard.exitCode, 0, guard.stderr);
    await victim.exec(['ip', '-4', 'address', 'flush', 'dev', 'eth0']);
    // The hostile guest sends as a client without an address does, from 0.0.0.0: a source the server cannot tell apart.
    await hostile.exec(['ip', '-4', 'address', 'flush', 'dev', 'eth0']);
    await hostile.exec(['ip', 'route', 'replace', 'default', 'dev', 'eth0']);
    const before = await server.stats();
    const offers = () => server.events('offer').filter((e) => e.link === victimDhcp.link).length;
    const offersBefore = offers();
    const flood = spawnInGuest(hostile, ['node', '-e', floodScript(victimDhcp.mac)]);
    flood.catch(() => {});
    await new Promise((resolve) => flood.stdout?.once('data', resolve));
    const client = await startClient(sandbox, victim, 'udhcpc', ['-t', '20']);
    await leased(victim, client, 3);
    flood.kill('SIGKILL');
    // Not one forged request reached the server: the only offers to the victim's link were its own, and nothing hit its rate.
    assert.ok(offers() - offersBefore <= 2, `${offers() - offersBefore} offers`);
    assert.equal((await server.stats()).dropped.rate, before.dropped.rate);

    const spoof = ['link add lanspoof link uplink0 address', victimDhcp.mac, 'type macvlan mode bridge'].join(' ');
    assert.equal((await sandbox.inet(['ip', '-batch', '-'], `${spoof}\nlink set dev lanspoof up\n`)).exitCode, 0);
    const lanOffersBefore = offers();
    assert.notEqual((await udhcpcOnce((argv) => sandbox.inet(argv), 'lanspoof')).exitCode, 0);
    assert.equal(offers(), lanOffersBefore, "the LAN host's request with the guest's MAC never reached the server");
    await sandbox.inet(['ip', 'link', 'del', 'lanspoof']);
    assert.equal(await dhcpOnUplink(), 0);
  });

  it("the host's own dnsmasq on its bridge (--bind-interfaces, as lxc-net runs it) keeps serving beside it, guard included", async () => {
    const container = await sandbox.startGuest({ agent: false });
    const port = await sandbox.host([
      'ip',
      'link',
      'add',
      'lxcport9',
      'master',
      'lxcbr9',
      'up',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      String(container.pid),
    ]);
    assert.equal(port.exitCode, 0, port.stderr);
    await container.exec(['ip', 'link', 'set', 'dev', 'eth0', 'up']);
    const answered = (await server.stats()).answered;
    const leased = await udhcpcOnce((argv) => container.exec(argv), 'eth0', ['-t', '10']);
    assert.equal(leased.exitCode, 0, leased.stderr);
    assert.match(leased.stderr, /lease of 10\.55\.0\.\d+ obtained from 10\.55\.0\.1/);
    assert.equal((await server.stats()).answered, answered, 'ours did not answer');
  });

  it('a client that asks for broadcast replies (BROADCAST flag) takes the unicast one: its raw socket hears it', async () => {
    const guest = guests[0] as Guest;
    await guest.exec(['ip', '-4', 'address', 'flush', 'dev', 'eth0']);
    const leased = await udhcpcOnce((argv) => guest.exec(argv), 'eth0', ['-B']);
    assert.equal(leased.exitCode, 0, leased.stderr);
    assert.match(leased.stderr, /lease of 172\.17\.3\.3 obtained/);
    assert.equal(await dhcpOnUplink(), 0);
  });
});
