import assert from 'node:assert/strict';
import { type FirewallContent, iptables } from '@guestnet/host-agent';
import { inputTo, linesStarting, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// ip6tables' rules of IPv6's own: neighbour discovery from link-local or
// unspecified sources passes the source check, and reaches the host at a rate
// per link; a dhcp guest reaches the DNS forwarder at its IPv6 gateway (its
// RDNSS) from its own link; no loopback.

const restore6 = (content: FirewallContent) => inputTo(iptables('iptables-legacy').change(NO_RULES, content), 'ip6tables-legacy-restore');
const second6 = withIpv6(SECOND_RULE, { guestAddress: 'fd00:1::ac11:304' });

describe('firewall/iptables6: IPv6 rules of its own', () => {
  it('lets ICMPv6 from link-local and unspecified sources on a guest link pass, before any source check', () => {
    const antispoof = linesStarting(restore6(installed(withIpv6())), '-A GUESTNET-ANTISPOOF ');
    assert.deepEqual(antispoof.slice(0, 2), [
      '-A GUESTNET-ANTISPOOF -s fe80::/10 -i vm_wlan+ -p ipv6-icmp -j RETURN',
      '-A GUESTNET-ANTISPOOF -s ::/128 -i vm_wlan+ -p ipv6-icmp -j RETURN',
    ]);
  });

  it('gives each guest link its own neighbour discovery budget, and drops what exceeds it', () => {
    const nd = linesStarting(restore6(installed(withIpv6(), second6)), '-A GUESTNET-ND ');
    assert.deepEqual(nd, [
      '-A GUESTNET-ND -i vm_wlan -m limit --limit 10/sec --limit-burst 20 -j ACCEPT',
      '-A GUESTNET-ND -i vm_wlan1 -m limit --limit 10/sec --limit-burst 20 -j ACCEPT',
      '-A GUESTNET-ND -j DROP',
    ]);
    const input = linesStarting(restore6(installed(withIpv6())), '-A GUESTNET-INPUT ');
    assert.deepEqual(
      input.filter((l) => l.endsWith('-j GUESTNET-ND')).map((l) => l.replace(/.*--icmpv6-type (\d+).*/, '$1')),
      ['135', '136', '133'],
      'solicitations and advertisements, and router solicitations',
    );
    assert.ok(!input.some((l) => l.includes('--dport 53')), "no DNS at IPv6 gateways for an agent's guest");
  });

  it("accepts a dhcp guest's DNS to its IPv6 gateway from its own link only, a flood dropped before the accept of established traffic", () => {
    const dhcp = { ...withIpv6(), dhcp: { mac: '02:67:6e:11:03:03' } };
    const input = linesStarting(restore6(installed(dhcp, second6)), '-A GUESTNET-INPUT ');
    const dns = input.filter((l) => l.includes('--dport 53'));
    const FLOOD_LIMIT = '-m hashlimit --hashlimit-above 200/sec --hashlimit-burst 200 --hashlimit-mode srcip --hashlimit-name guestnet-dns';
    assert.deepEqual(dns, [
      `-A GUESTNET-INPUT -d fd00:1::1/128 -i vm_wlan -p udp -m udp --dport 53 ${FLOOD_LIMIT} -j DROP`,
      '-A GUESTNET-INPUT -d fd00:1::1/128 -i vm_wlan -p udp -m udp --dport 53 -j ACCEPT',
      '-A GUESTNET-INPUT -d fd00:1::1/128 -i vm_wlan -p tcp -m tcp --dport 53 -j ACCEPT',
    ]);
    const established = input.findIndex((l) => l.includes('RELATED,ESTABLISHED'));
    assert.ok(input.indexOf(dns[2] as string) < established);
  });

  it('owns a GUESTNET-ND chain in ip6tables only', () => {
    const both = iptables('iptables-legacy').change(NO_RULES, installed(withIpv6()));
    assert.match(inputTo(both, 'ip6tables-legacy-restore'), /^:GUESTNET-ND - \[0:0\]$/m);
    assert.doesNotMatch(inputTo(both, 'iptables-legacy-restore'), /GUESTNET-ND/);
  });

  it('sends a published port to the guest as [address]:port, with no loopback rules', () => {
    const text = restore6(installed(withIpv6({ ...SAMPLE_RULE, forwards: [{ protocol: 'tcp', hostPort: 5555, guestPort: 5037 }] })));
    assert.match(text, /-j DNAT --to-destination \[fd00:1::ac11:303\]:5037$/m);
    assert.doesNotMatch(text, /127\.0\.0\.0|\s::1\//);
  });
});
