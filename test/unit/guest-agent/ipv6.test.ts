import assert from 'node:assert/strict';
import { type DnsTarget, familyOf, type GuestObserved, ipLinesOf, planGuest, verifiedState, withIp6State } from '@guestnet/guest-agent';
import type { GuestConfig } from '@guestnet/protocol';

const token = `guestnet:${'d'.repeat(32)}`;
const NONE: DnsTarget = { kind: 'none' };
const ipv6 = { address: 'fd00::ac11:303', prefixLength: 64, gateway: 'fd00::1' };
const configure: GuestConfig = {
  token,
  link: { rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2', ipv6 },
  dns: [],
};
const configured = (): GuestObserved => ({
  links: [{ name: 'wlan0', alias: token, mtu: 1500, up: true, addresses: ['172.17.3.3/16'], addresses6: [] }],
  defaultRoute: { gateway: '172.17.3.2', dev: 'wlan0' },
  defaultRoute6: undefined,
  rules6: { mainRulePriority: 32766, terminalRulePriority: undefined },
  mainRulePriority: 32766,
  terminalRulePriority: undefined,
  dnsFile: undefined,
});

describe('guest planner: IPv6', () => {
  it('adds the address without duplicate address detection and the default route, in the IPv6 batch', () => {
    const ops = planGuest(configured(), configure, NONE);
    assert.deepEqual(
      ops.map((op) => [op.kind, familyOf(op), ...ipLinesOf(op)]),
      [
        ['addAddress', 6, 'address add fd00::ac11:303/64 dev wlan0 nodad'],
        ['setDefaultRoute', 6, 'route replace default via fd00::1 dev wlan0'],
      ],
    );
  });

  it('plans nothing once both are in place, and reports IPv6 as applied', () => {
    const done = { ...configured(), defaultRoute6: { gateway: 'fd00::1', dev: 'wlan0' } };
    done.links[0]!.addresses6 = ['fd00::ac11:303/64'];
    assert.deepEqual(planGuest(done, configure, NONE), []);
    assert.deepEqual(verifiedState(done, configure).ipv6, ipv6);
  });

  it('an Android guest whose netd left no IPv6 rule for main gets one before its catch-all', () => {
    const android = { ...configured(), rules6: { mainRulePriority: undefined, terminalRulePriority: 32000 } };
    const rule = planGuest(android, configure, NONE).find((op) => op.kind === 'addMainRule');
    assert.deepEqual(rule, { kind: 'addMainRule', priority: 31999, family: 6 });
  });

  it('a configure without IPv6 plans no IPv6, and verifying does not ask for it', () => {
    const { ipv6: _, ...link } = configure.link;
    assert.deepEqual(planGuest(configured(), { ...configure, link }, NONE), []);
    assert.equal(verifiedState(configured(), { ...configure, link }).ipv6, undefined);
  });

  it('reads what `ip -6 -j` shows: global addresses, the default route and the rules', () => {
    const output = [
      JSON.stringify([{ ifname: 'wlan0', addr_info: [{ local: 'fd00::ac11:303', prefixlen: 64 }] }]),
      JSON.stringify([{ dst: 'default', gateway: 'fd00::1', dev: 'wlan0' }]),
      JSON.stringify([
        { priority: 0, src: 'all', table: 'local' },
        { priority: 32766, src: 'all', table: 'main' },
      ]),
    ].join('\n');
    const state = withIp6State(configured(), output);
    assert.deepEqual(state.links[0]?.addresses6, ['fd00::ac11:303/64']);
    assert.deepEqual(state.defaultRoute6, { gateway: 'fd00::1', dev: 'wlan0' });
    assert.equal(state.rules6?.mainRulePriority, 32766);
  });
});

describe('DHCP: what udhcpc reports through our event script', () => {
  it('a bound or renewed lease gives address, prefix, the first router and up to four resolvers', async () => {
    const { parseLeaseLine } = await import('@guestnet/guest-agent');
    assert.deepEqual(parseLeaseLine('guestnet-lease bound 192.168.77.107 24 192.168.77.1 192.168.77.1 9.9.9.9'), {
      address: '192.168.77.107',
      prefixLength: 24,
      gateway: '192.168.77.1',
      dns: ['192.168.77.1', '9.9.9.9'],
    });
    assert.equal(parseLeaseLine('guestnet-lease deconfig    ')?.address, undefined);
    assert.equal(parseLeaseLine('guestnet-lease bound 192.168.77.107 24'), undefined, 'a lease without a router is not applied');
    assert.equal(parseLeaseLine('guestnet-lease bound 192.168.77.107 33 192.168.77.1'), undefined);
    assert.equal(parseLeaseLine('udhcpc: sending discover'), null);
  });

  it('a DHCP configure plans only the link: name, MTU, up', () => {
    const fresh: GuestObserved = {
      ...configured(),
      links: [{ name: 'vm_wlan0', alias: token, mtu: 1500, up: false, addresses: [] }],
      defaultRoute: undefined,
    };
    const { ipv6: _, ...link } = configure.link;
    const ops = planGuest(
      fresh,
      { ...configure, link: { ...link, address: '0.0.0.0', prefixLength: 1, gateway: '0.0.0.0', dhcp: true } },
      NONE,
    );
    assert.deepEqual(
      ops.map((op) => op.kind),
      ['renameLink', 'linkUp'],
    );
  });
});
