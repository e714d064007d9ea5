import assert from 'node:assert/strict';
import { type FirewallContent, type GuestRule, nftables } from '@guestnet/host-agent';
import { inputTo, linesStarting, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// One description of both nft tables: the rules never name a guest, a guest
// is only set elements, and an option a guest does not take puts nothing in
// its set.

const install = (content: FirewallContent) => inputTo(nftables.change(NO_RULES, content), 'nft');
const definitions = (input: string) => input.split('\n').filter((l) => !l.startsWith('add element'));
const elements = (input: string) => linesStarting(input, 'add element');
const third: GuestRule = { ...SAMPLE_RULE, hostIf: 'eth_guest', linkFamily: 'eth_guest', uplink: 'rmnet0', gateway: '10.9.0.1' };

describe('firewall/nft-ruleset: a guest is set elements, the tables the same for any number of guests', () => {
  it('writes the same table definitions for one guest or several: adding one never rewrites a rule', () => {
    const one = install(installed(withIpv6()));
    const three = install(installed(withIpv6(), withIpv6(SECOND_RULE, { guestAddress: 'fd00:1::ac11:304' }), third));
    assert.deepEqual(definitions(three), definitions(one));
    assert.ok(elements(three).length > elements(one).length);
  });

  it("names a guest's link, address and uplink in its elements only, never in a rule", () => {
    for (const line of definitions(install(installed(withIpv6(third)))))
      assert.doesNotMatch(line, /eth_guest|rmnet0|172\.17\.3\.3|10\.9\.0\.1|fd00:1::ac11:303/, line);
  });

  it('puts in each set what a guest is: its link, its link with its uplink and with its address, its address', () => {
    assert.deepEqual(elements(install(installed({ ...third, forwards: [] }))), [
      'add element ip guestnet guest_links { "eth_guest" }',
      'add element ip guestnet forward_pairs { "eth_guest" . "rmnet0" }',
      'add element ip guestnet guest_sources { "eth_guest" . 172.17.3.3 }',
      'add element ip guestnet guest_addresses { 172.17.3.3 }',
      'add element ip guestnet masquerade_sources { 172.17.3.3 . "wlan0" }'.replace('wlan0', 'rmnet0'),
      'add element ip guestnet dns_servers { "eth_guest" . 10.9.0.1 }',
      'add element ip guestnet gateways { 10.9.0.1 }',
    ]);
  });

  it('puts nothing in the set of an option a guest does not take: open_links only when open, masquerade only in NAT mode', () => {
    const closed = elements(install(installed(withIpv6(SAMPLE_RULE, { masquerade: false }))));
    assert.equal(closed.filter((l) => l.includes('open_links')).length, 0);
    assert.deepEqual(
      closed.filter((l) => l.includes('masquerade_sources')),
      ['add element ip guestnet masquerade_sources { 172.17.3.3 . "wlan0" }'],
      "a routed IPv6 guest keeps its address; IPv4's is masqueraded",
    );
    const open = elements(install(installed(withIpv6({ ...SAMPLE_RULE, openToGuests: true }))));
    assert.deepEqual(
      open.filter((l) => l.includes('open_links')),
      ['add element ip guestnet open_links { "vm_wlan" }', 'add element ip6 guestnet open_links { "vm_wlan" }'],
    );
  });

  it('writes a gateway once however many guests have it', () => {
    const gateways = elements(install(installed(SAMPLE_RULE, SECOND_RULE, third))).filter((l) => l.includes(' gateways '));
    assert.deepEqual(gateways, ['add element ip guestnet gateways { 172.17.3.2 }', 'add element ip guestnet gateways { 10.9.0.1 }']);
  });

  it('maps a forward on every address by port, and one bound to a host address by address and port', () => {
    const forwards = [
      { protocol: 'udp' as const, hostPort: 5353, guestPort: 53 },
      { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80, hostAddress: '198.51.100.2' },
    ];
    assert.deepEqual(
      elements(install(installed({ ...SAMPLE_RULE, forwards }))).filter((l) => l.includes('port_forwards')),
      [
        'add element ip guestnet port_forwards { udp . 5353 : 172.17.3.3 . 53 }',
        'add element ip guestnet port_forwards_at { 198.51.100.2 . tcp . 8081 : 172.17.3.3 . 80 }',
      ],
    );
  });
});
