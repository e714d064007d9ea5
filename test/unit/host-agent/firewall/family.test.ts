import assert from 'node:assert/strict';
import { type FirewallContent, iptables, nftables } from '@guestnet/host-agent';
import { inputTo, linesStarting, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE } from '../../../fixtures/records.js';

// A guest as each address family sees it, in both backends: IPv6's side only
// where the guest has one, without forwards bound to an IPv4 host address,
// masqueraded only in NAT mode.

const everywhere = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };
const bound = { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80, hostAddress: '198.51.100.2' };
const nft6 = (content: FirewallContent) => linesStarting(inputTo(nftables.change(NO_RULES, content), 'nft'), 'add element ip6 ');
const ip6 = (content: FirewallContent) => inputTo(iptables('iptables-legacy').change(NO_RULES, content), 'ip6tables-legacy-restore');

describe("firewall/family: a guest's side in each address family", () => {
  it('gives a guest without IPv6 nothing in IPv6 rules', () => {
    assert.deepEqual(nft6(installed(SAMPLE_RULE)), []);
    assert.equal(ip6(installed(SAMPLE_RULE)), '');
  });

  it('carries over IPv6 only the forwards on every address: one bound to an IPv4 host address has no IPv6 side', () => {
    const rule = withIpv6({ ...SAMPLE_RULE, forwards: [everywhere, bound] });
    assert.deepEqual(
      nft6(installed(rule)).filter((l) => l.includes('port_forwards')),
      ['add element ip6 guestnet port_forwards { tcp . 5555 : fd00:1::ac11:303 . 5555 }'],
    );
    assert.deepEqual(
      linesStarting(ip6(installed(rule)), '-A GUESTNET-PREROUTING').map((l) => l.replace(/.* --to-destination /, '')),
      ['[fd00:1::ac11:303]:5555'],
    );
  });

  it("uses the guest's IPv6 address, gateway and uplink in IPv6 rules, never its IPv4 ones", () => {
    const rule = withIpv6(SAMPLE_RULE, { uplink: 'rmnet1' });
    for (const text of [nft6(installed(rule)).join('\n'), ip6(installed(rule))]) {
      assert.doesNotMatch(text, /172\.17\./);
      assert.match(text, /rmnet1/);
      assert.match(text, /fd00:1::1\b/);
    }
  });

  it('masquerades IPv6 to the uplink in NAT mode only; routed guests keep their address', () => {
    const masquerades = (masquerade: boolean) => [
      nft6(installed(withIpv6(SAMPLE_RULE, { masquerade }))).filter((l) => l.includes('masquerade_sources')).length,
      linesStarting(ip6(installed(withIpv6(SAMPLE_RULE, { masquerade }))), '-A GUESTNET-POSTROUTING -s fd00:1::/64 -o wlan0 ').length,
    ];
    assert.deepEqual(masquerades(true), [1, 1]);
    assert.deepEqual(masquerades(false), [0, 0]);
  });
});
