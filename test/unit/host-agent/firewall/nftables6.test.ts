import assert from 'node:assert/strict';
import { NFT_TABLE6, nftables } from '@guestnet/host-agent';
import { inputTo, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// IPv6's table: there while some guest has IPv6, gone with the last; neighbour
// discovery passes, at a rate per link; a dhcp guest reaches the DNS forwarder
// at its IPv6 gateway (its RDNSS), over its own link, at a rate.

const nft = (...args: Parameters<typeof nftables.change>) => inputTo(nftables.change(...args), 'nft');
const chain = (name: string) =>
  (new RegExp(`^\\tchain ${name} \\{\\n([\\s\\S]*?)\\n\\t\\}`, 'm').exec(NFT_TABLE6)?.[1] ?? '').split('\n').map((l) => l.trim());
const v6 = withIpv6(SECOND_RULE, { guestAddress: 'fd00:1::ac11:304' });

describe('firewall/nftables6: IPv6 table', () => {
  it('is made with the first guest that has IPv6 and not before', () => {
    assert.doesNotMatch(nft(NO_RULES, installed(SAMPLE_RULE)), /ip6/);
    assert.match(
      nft(installed(SAMPLE_RULE), installed(SAMPLE_RULE, v6)),
      /^add table ip6 guestnet\ndelete table ip6 guestnet\ntable ip6 guestnet \{/m,
    );
  });

  it('is dropped with the last guest that has IPv6, and left alone while IPv4-only guests come and go', () => {
    assert.match(nft(installed(SAMPLE_RULE, v6), installed(SAMPLE_RULE)), /^add table ip6 guestnet\ndelete table ip6 guestnet$/m);
    assert.doesNotMatch(nft(installed(v6), installed(v6, SAMPLE_RULE)), /ip6/);
    assert.doesNotMatch(nft(installed(v6, SAMPLE_RULE), installed(v6)), /ip6/);
  });

  it('lets neighbour discovery from link-local or unspecified sources pass the source check, ICMPv6 only', () => {
    const antispoof = chain('antispoof');
    const nd = antispoof.indexOf('iifname @guest_links ip6 saddr { fe80::/10, :: } meta l4proto ipv6-icmp accept');
    assert.ok(nd > 0 && nd < antispoof.findIndex((r) => r.includes('!= @guest_sources')));
  });

  it('accepts neighbour discovery to the host at a rate per link, the flood dropped first', () => {
    const input = chain('input');
    const limit = input.findIndex((r) => r.includes('@nd_rate { iifname limit rate over') && r.endsWith(' drop'));
    const accept = input.findIndex((r) => r.includes('nd-neighbor-solicit') && r.endsWith(' accept'));
    assert.ok(limit > 0 && limit < accept);
    assert.equal(input.at(-1), 'iifname @guest_links drop');
  });

  it('accepts DNS to a gateway only over a link that has it as resolver, a flood dropped before the accept of established traffic', () => {
    const input = chain('input');
    const flood = input.findIndex(
      (r) => r.startsWith('iifname . ip6 daddr @dns_servers udp dport 53 update @dns_rate') && r.endsWith(' drop'),
    );
    const established = input.indexOf('iifname @guest_links ct state established,related accept');
    const accept = input.indexOf('iifname . ip6 daddr @dns_servers meta l4proto { tcp, udp } th dport 53 accept');
    assert.ok(flood > 0 && flood < established && established < accept, input.join('\n'));
  });

  it('puts the link and IPv6 gateway of a dhcp guest in dns_servers, and of an agent guest nothing', () => {
    const elements = (rule: typeof v6) => nft(NO_RULES, installed(rule)).match(/^add element ip6 guestnet dns_servers .*$/gm) ?? [];
    assert.deepEqual(elements({ ...withIpv6(), dhcp: { mac: '02:67:6e:11:03:03' } }), [
      'add element ip6 guestnet dns_servers { "vm_wlan" . fd00:1::1 }',
    ]);
    assert.deepEqual(elements(withIpv6()), []);
  });
});
