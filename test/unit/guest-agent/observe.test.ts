import assert from 'node:assert/strict';
import { type GuestObserved, parseIpState, withArrivedLinks, withIp6State } from '@guestnet/guest-agent';

const token = `guestnet:${'a'.repeat(32)}`;
// What `ip -4 -j -batch -` printed for link show, address show, route show default and rule show,
// in a netns with lo, a veth pair (vm_wlan0 tagged and addressed), a fwmark rule and an unreachable rule at 200.
const IPV4_OUTPUT = [
  JSON.stringify([
    {
      ifindex: 1,
      ifname: 'lo',
      flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
      mtu: 65536,
      qdisc: 'noqueue',
      operstate: 'UNKNOWN',
      link_type: 'loopback',
    },
    { ifindex: 2, link: 'vm_wlan0', ifname: 'peer0', flags: ['BROADCAST', 'MULTICAST'], mtu: 1500, operstate: 'DOWN', link_type: 'ether' },
    { ifindex: 3, link: 'peer0', ifname: 'vm_wlan0', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1400, ifalias: token },
  ]),
  JSON.stringify([
    { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host', label: 'lo' }] },
    {
      ifindex: 3,
      ifname: 'vm_wlan0',
      addr_info: [{ family: 'inet', local: '172.17.3.3', prefixlen: 16, scope: 'global', label: 'vm_wlan0', valid_life_time: 4294967295 }],
    },
  ]),
  JSON.stringify([{ dst: 'default', gateway: '172.17.3.2', dev: 'vm_wlan0', flags: [] }]),
  JSON.stringify([
    { priority: 0, src: 'all', table: 'local' },
    { priority: 100, src: 'all', fwmark: '0x1', table: '10' },
    { priority: 200, src: 'all', action: 'unreachable' },
    { priority: 32766, src: 'all', table: 'main' },
    { priority: 32767, src: 'all', table: 'default' },
  ]),
].join('\n');
// `ip -6 -j -batch -` for address show scope global, route show default and rule show, in the same netns.
// The empty entry after the address is one ip prints for lifetimes alone.
const IPV6_OUTPUT = [
  JSON.stringify([
    {
      ifindex: 3,
      link: 'peer0',
      ifname: 'vm_wlan0',
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mtu: 1400,
      addr_info: [{ family: 'inet6', local: 'fd00::ac11:303', prefixlen: 64, scope: 'global', nodad: true }, {}],
    },
  ]),
  JSON.stringify([{ dst: 'default', gateway: 'fd00::1', dev: 'vm_wlan0', metric: 1024, flags: [], pref: 'medium' }]),
  JSON.stringify([
    { priority: 0, src: 'all', table: 'local' },
    { priority: 32766, src: 'all', table: 'main' },
  ]),
].join('\n');

describe('guest observation: what ip -j shows', () => {
  it('reads links with index, alias, MTU and UP, their IPv4 addresses and the default route', () => {
    const state = parseIpState(`${IPV4_OUTPUT}\n`);
    assert.deepEqual(state.links, [
      { name: 'lo', index: 1, alias: undefined, mtu: 65536, up: true, addresses: ['127.0.0.1/8'] },
      { name: 'peer0', index: 2, alias: undefined, mtu: 1500, up: false, addresses: [] },
      { name: 'vm_wlan0', index: 3, alias: token, mtu: 1400, up: true, addresses: ['172.17.3.3/16'] },
    ]);
    assert.deepEqual(state.defaultRoute, { gateway: '172.17.3.2', dev: 'vm_wlan0' });
  });

  it('finds the first catch-all rule that ends routing, and main only before it; a rule with a selector is no catch-all', () => {
    const state = parseIpState(IPV4_OUTPUT);
    assert.equal(state.terminalRulePriority, 200);
    assert.equal(state.mainRulePriority, undefined, 'main at 32766 comes after unreachable at 200: its routes are unused');
    const rules = (list: object[]) => parseIpState([...IPV4_OUTPUT.split('\n').slice(0, 3), JSON.stringify(list)].join('\n'));
    const plain = rules([
      { priority: 0, src: 'all', table: 'local' },
      { priority: 50, src: 'all', iif: 'lo', table: 'main' },
      { priority: 32766, src: 'all', table: 'main' },
    ]);
    assert.deepEqual([plain.mainRulePriority, plain.terminalRulePriority], [32766, undefined], 'iif lo is a selector');
    const fromSource = rules([{ priority: 10, src: '172.17.0.0', srclen: 16, table: 'main' }]);
    assert.equal(fromSource.mainRulePriority, undefined);
  });

  it('a default route without a gateway is no default route to a gateway', () => {
    const lines = IPV4_OUTPUT.split('\n');
    lines[2] = JSON.stringify([{ dst: 'default', dev: 'vm_wlan0', scope: 'link', flags: [] }]);
    assert.equal(parseIpState(lines.join('\n')).defaultRoute, undefined);
  });

  it("adds IPv6's global addresses, default route and rules, skipping lifetime-only entries", () => {
    const state = withIp6State(parseIpState(IPV4_OUTPUT), IPV6_OUTPUT);
    assert.deepEqual(
      state.links.map((l) => [l.name, l.addresses6]),
      [
        ['lo', []],
        ['peer0', []],
        ['vm_wlan0', ['fd00::ac11:303/64']],
      ],
    );
    assert.deepEqual(state.defaultRoute6, { gateway: 'fd00::1', dev: 'vm_wlan0' });
    assert.deepEqual(state.rules6, { mainRulePriority: 32766, terminalRulePriority: undefined });
    assert.equal(state.terminalRulePriority, 200, "IPv4's rules are untouched");
  });

  it('adds arrived links to a look, and is no arrival when one of them was there already', () => {
    const previous: GuestObserved = { ...parseIpState(IPV4_OUTPUT), dnsFile: undefined };
    const arrived = { name: 'gnAbCdEf0123456', index: 9, alias: undefined, mtu: 1500, up: false, addresses: [] };
    assert.deepEqual(withArrivedLinks(previous, [arrived])?.links.at(-1), arrived);
    assert.equal(withArrivedLinks(previous, [{ ...arrived, name: 'peer0' }]), undefined);
    assert.equal(withArrivedLinks(previous, []), undefined);
    assert.equal(withArrivedLinks(previous, undefined), undefined);
    const with6: GuestObserved = { ...withIp6State(parseIpState(IPV4_OUTPUT), IPV6_OUTPUT), dnsFile: undefined };
    assert.deepEqual(withArrivedLinks(with6, [arrived])?.links.at(-1)?.addresses6, [], 'a look that read IPv6 shows none on the new link');
  });
});
