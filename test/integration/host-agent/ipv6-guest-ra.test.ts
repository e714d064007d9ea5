import assert from 'node:assert/strict';
import { hostDefaultRoute6, startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { advertisementReached, advertiseFromGuest, learnedFrom } from '../../fixtures/rogue-guest.js';
import { FIREWALLS, type Guest, Sandbox } from '../../fixtures/sandbox.js';

// A guest that advertises itself as a router, with radvd in its netns: the
// host takes nothing from it. Guest links never accept router advertisements
// or redirects (set before each link comes up, whatever `default` holds, and
// the first IPv6 guest sets that to accept_ra=2 for the host's own links), a
// guest without IPv6 has no IPv6 on its link at all, and the firewall drops
// advertisements from guests besides. After a firewall flush the link
// settings alone keep the host's routing clean. The attaches are one-shot, so
// no reconcile loop puts the flushed rules back.

const NOTHING = { routes: '', addresses: '', routers: '' };

for (const firewall of FIREWALLS)
  describe(`a guest's router advertisements never reach the host's routing (${firewall})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    /** The first IPv6 guest, whose attach turns forwarding on; then one made after it; then one without IPv6. */
    const guests: Record<'first' | 'later' | 'ipv4Only', Guest> = {} as never;
    const links: Record<keyof typeof guests, string> = {} as never;
    const sysctl = (key: string) => sandbox.host(['sysctl', '-n', key]).then((r) => r.stdout.trim());

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      await startRaUplink(sandbox);
      for (const [name, args] of [
        ['first', []],
        ['later', []],
        ['ipv4Only', ['--ipv6', 'off']],
      ] as const) {
        const guest = await sandbox.startGuest();
        const attached = await sandbox.hostAgent(['attach', String(guest.pid), ...args]);
        assert.equal(attached.exitCode, 0, attached.stderr);
        guests[name] = guest;
      }
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as {
        guests: Array<{ pid: number; hostIf: string }>;
      };
      for (const name of Object.keys(guests) as Array<keyof typeof guests>)
        links[name] = status.guests.find((g) => g.pid === guests[name].pid)?.hostIf ?? '';
    });
    after(async () => sandbox?.destroy());

    it('guest links take no advertisements or redirects, and a guest without IPv6 has none on its link', async () => {
      assert.equal(await sysctl('net.ipv6.conf.default.accept_ra'), '2', 'the host keeps taking RAs on links it makes later');
      for (const link of Object.values(links)) {
        assert.equal(await sysctl(`net.ipv6.conf.${link}.accept_ra`), '0', link);
        assert.equal(await sysctl(`net.ipv6.conf.${link}.accept_redirects`), '0', link);
        assert.equal(await sysctl(`net.ipv4.conf.${link}.accept_redirects`), '0', link);
      }
      assert.equal(await sysctl(`net.ipv6.conf.${links.ipv4Only}.disable_ipv6`), '1');
      assert.equal(await sysctl(`net.ipv6.conf.${links.later}.disable_ipv6`), '0');
    });

    it('with the firewall in place, the host learns no route, address or router from them', async () => {
      for (const name of ['later', 'ipv4Only'] as const) await advertiseFromGuest(sandbox, guests[name]);
      for (const name of ['later', 'ipv4Only'] as const) {
        assert.equal(await advertisementReached(sandbox, links[name]), false, `${name}: dropped before the host's stack`);
        assert.deepEqual(await learnedFrom(sandbox, links[name]), NOTHING, name);
      }
    });

    it('after a firewall flush the advertisements arrive, and the host still learns no route or address from them', async () => {
      const flush =
        firewall === 'nftables'
          ? [
              ['nft', 'delete', 'table', 'ip6', 'guestnet'],
              ['nft', 'delete', 'table', 'ip', 'guestnet'],
            ]
          : [firewall, firewall.replace('iptables', 'ip6tables')].flatMap((tool) => [
              [tool, '-w', '-D', 'INPUT', '-j', 'GUESTNET-INPUT'],
              [tool, '-w', '-D', 'FORWARD', '-j', 'GUESTNET-FORWARD'],
            ]);
      for (const argv of flush) assert.equal((await sandbox.host(argv)).exitCode, 0, argv.join(' '));
      assert.equal(await advertisementReached(sandbox, links.later), true, 'the advertisements reach the host now');
      const learned = await learnedFrom(sandbox, links.later);
      assert.deepEqual({ routes: learned.routes, addresses: learned.addresses }, { routes: '', addresses: '' });
      assert.deepEqual(await learnedFrom(sandbox, links.ipv4Only), NOTHING, 'no IPv6 on the link of a guest without it');
    });

    it('the host keeps its own RA-learned default route on the uplink', async () => {
      assert.match(await hostDefaultRoute6(sandbox), /^default via \S+ dev wlan0 /, 'proto ra');
      assert.doesNotMatch(await hostDefaultRoute6(sandbox), /vm_wlan/);
    });
  });
