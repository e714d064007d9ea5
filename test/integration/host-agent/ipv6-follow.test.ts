import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeNetdHost, NETD_IPV6, uplinkTable } from '../../fixtures/android-host.js';
import { hostDefaultRoute6, RA_UPLINK, startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { type Daemon, type Guest, Sandbox, SETTLE_GUARD_MS, UPLINK } from '../../fixtures/sandbox.js';

// A phone's uplink takes IPv4 first and its SLAAC address a moment later, and
// again after every roam. With --ipv6 auto, a guest attached in between gains
// IPv6 when the uplink does and loses it when the uplink does, without a
// re-attach: the daemon changes the host side and tells the guest agent.

type Status6 = { mode: string; address: string; gateway: string; uplink: string } | null;

// The host's own firewall, and the backend guestnet is told to use (iptables-nft on an nftables host:
// what ip6tables makes for IPv6's chains when the guest gains IPv6 goes when it loses it).
const HOSTS = [
  { firewall: 'nftables', args: [] },
  { firewall: 'iptables', args: [] },
  { firewall: 'nftables', args: ['--firewall', 'iptables'] },
] as const;

for (const { firewall, args } of HOSTS)
  describe(`host-agent serve: --ipv6 auto guests follow the uplink's IPv6 (${[firewall, ...args].join(' ')})`, function () {
    this.timeout(120_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let guest: Guest;
    let ipv4Only: string;
    let hostAddress: string;

    const status6 = async (): Promise<Status6> =>
      JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests[0]?.ipv6 ?? null;
    const guestRoute6 = async () => (await guest.exec(['ip', '-6', 'route', 'show', 'default'])).stdout.trim();
    const guestAddresses6 = async () =>
      (await guest.exec(['ip', '-6', 'address', 'show', 'dev', 'wlan0', 'scope', 'global'])).stdout.trim();

    async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
      let value = await probe();
      for (const end = Date.now() + SETTLE_GUARD_MS; !ok(value) && Date.now() < end; value = await probe())
        await new Promise((r) => setTimeout(r, 100));
      assert.ok(ok(value), `${what}: ${JSON.stringify(value)}\n${daemon.output()}`);
      return value;
    }

    /** The guest reaches the IPv6 server, which sees the uplink's address: NAT66 is in force. */
    async function reachesServer6(): Promise<void> {
      let seen = '';
      for (let i = 0; i < 20 && seen !== hostAddress; i++) seen = (await sandbox.fetch6FromGuest(guest, 500)).stdout.trim();
      assert.equal(seen, hostAddress, daemon.output());
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress, 'and IPv4 still works');
      const agent = JSON.parse((await guest.agentStatus(true)).stdout);
      assert.equal(agent.lastApply?.ok, true, JSON.stringify(agent));
    }

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      daemon = await sandbox.startDaemon();
      guest = await sandbox.startGuest();
    });
    after(async () => sandbox?.destroy());

    it('attaches with IPv4 only while the uplink has no IPv6', async () => {
      const attached = await sandbox.hostAgent(['attach', String(guest.pid), ...args]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.equal(await status6(), null);
      assert.equal(await guestRoute6(), '');
      ipv4Only = await sandbox.hostSnapshot();
    });

    it('gains IPv6 when router advertisements give the uplink an address and a default route', async () => {
      hostAddress = await startRaUplink(sandbox);
      await waitFor('an IPv6 default route in the guest', guestRoute6, (route) => route.startsWith('default via'));
      const ipv6 = await status6();
      assert.equal(ipv6?.mode, 'nat');
      assert.equal(ipv6?.uplink, 'wlan0');
      assert.match(await guestRoute6(), new RegExp(`^default via ${ipv6?.gateway} dev wlan0`));
      assert.match(await guestAddresses6(), new RegExp(`inet6 ${ipv6?.address}/64`));
      await reachesServer6();
    });

    it('loses IPv6 when the uplink does: the guest route and address, the host end, the rules and forwarding go', async () => {
      assert.notEqual(await status6(), null, 'the guest had IPv6 to lose');
      // As after a roam: the router says goodbye, and the address and the routes it gave go.
      const radvd = Number((await readFile(join(sandbox.dir, 'radvd.pid'), 'utf8')).trim());
      process.kill(radvd, 'SIGTERM');
      await sandbox.host(['ip', '-6', 'address', 'flush', 'dev', 'wlan0', 'scope', 'global']);
      await sandbox.host(['ip', '-6', 'route', 'flush', 'proto', 'ra']);
      await sandbox.host(['ip', '-6', 'route', 'del', `${RA_UPLINK.prefix}/${RA_UPLINK.prefixLength}`, 'dev', 'wlan0']);
      assert.equal(await hostDefaultRoute6(sandbox), '');
      await waitFor('no IPv6 default route in the guest', guestRoute6, (route) => route === '');
      assert.equal(await guestAddresses6(), '');
      assert.equal(await status6(), null);
      // The host as the IPv4-only attach left it: no IPv6 on the guest's host end, no IPv6 rules, forwarding and accept_ra back.
      const snapshot = () => sandbox.hostSnapshot();
      for (const end = Date.now() + SETTLE_GUARD_MS; (await snapshot()) !== ipv4Only && Date.now() < end; )
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(await snapshot(), ipv4Only, daemon.output());
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress, 'IPv4 still works');
    });

    it('gains it again when the uplink gets an address and default route back', async () => {
      hostAddress = `${RA_UPLINK.prefix}2`;
      const added = await sandbox.host(['ip', '-6', 'address', 'add', `${hostAddress}/64`, 'dev', 'wlan0', 'nodad']);
      assert.equal(added.exitCode, 0, added.stderr);
      const routed = await sandbox.host(['ip', '-6', 'route', 'add', 'default', 'via', RA_UPLINK.router, 'dev', 'wlan0']);
      assert.equal(routed.exitCode, 0, routed.stderr);
      await waitFor('an IPv6 default route in the guest', guestRoute6, (route) => route.startsWith('default via'));
      await reachesServer6();
    });
  });

// On an Android host netd keeps the network's IPv6 default route in the network's table: a
// guest that gains IPv6 gets its IPv6 rule to that table and its /128 in table 97, and loses both.
describe("host-agent serve: --ipv6 auto guests follow the uplink's IPv6 on an Android (netd) host", function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let daemon: Daemon;
  let guest: Guest;
  let table: number;

  const rules6 = async () => (await sandbox.host(['ip', '-6', 'rule', 'show'])).stdout;
  const table97 = async () => (await sandbox.host(['ip', '-6', 'route', 'show', 'table', '97'])).stdout;
  const uplink6 = (verb: 'add' | 'del') =>
    sandbox.host(
      ['ip', '-6', '-batch', '-'],
      [
        `address ${verb} ${NETD_IPV6.host}/64 dev wlan0 nodad${verb === 'add' ? ' noprefixroute' : ''}`,
        `route ${verb} default via ${NETD_IPV6.inet} dev wlan0 table ${table}`,
        '',
      ].join('\n'),
    );

  before(async () => {
    sandbox = await Sandbox.create('iptables');
    await makeNetdHost(sandbox, UPLINK.inetAddress, `198.51.100.0/${UPLINK.prefix}`, true);
    table = await uplinkTable(sandbox);
    await sandbox.startServer6();
    assert.equal((await uplink6('del')).exitCode, 0);
    daemon = await sandbox.startDaemon();
    guest = await sandbox.startGuest();
  });
  after(async () => sandbox?.destroy());

  it('gains IPv6, with its rule to the network table and its route in table 97, and loses them again', async () => {
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.doesNotMatch(await rules6(), /iif vm_wlan/);
    const added = await uplink6('add');
    assert.equal(added.exitCode, 0, added.stderr);
    let seen = '';
    for (const end = Date.now() + SETTLE_GUARD_MS; seen !== NETD_IPV6.host && Date.now() < end; )
      seen = (await sandbox.fetch6FromGuest(guest, 300)).stdout.trim();
    assert.equal(seen, NETD_IPV6.host, daemon.output());
    assert.match(await rules6(), new RegExp(`^21000:\\s+from all iif vm_wlan lookup ${table}`, 'm'));
    assert.match(await table97(), /dev vm_wlan/);
    assert.equal((await uplink6('del')).exitCode, 0);
    for (const end = Date.now() + SETTLE_GUARD_MS; /iif vm_wlan/.test(await rules6()) && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 100));
    assert.doesNotMatch(await rules6(), /iif vm_wlan/, daemon.output());
    assert.doesNotMatch(await table97(), /dev vm_wlan/);
    // The guest agent hears of it once the host side is done.
    const route6 = async () => (await guest.exec(['ip', '-6', 'route', 'show', 'default'])).stdout.trim();
    for (const end = Date.now() + SETTLE_GUARD_MS; (await route6()) !== '' && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(await route6(), '', daemon.output());
    assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress, 'IPv4 still works');
  });
});
