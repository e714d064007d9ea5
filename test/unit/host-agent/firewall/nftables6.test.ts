import assert from 'node:assert/strict';
import { NFT_TABLE6, nftables } from '@guestnet/host-agent';
import { inputTo, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// IPv6's table: there while some guest has IPv6, gone with the last; neighbour
// discovery passes, at a rate per link.

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
    assert.ok(!input.some((r) => r.includes('dport 53')), 'no DNS forwarder on IPv6');
  });
});
