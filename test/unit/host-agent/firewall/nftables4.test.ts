import assert from 'node:assert/strict';
import { NFT_TABLE, nftables } from '@guestnet/host-agent';
import { inputTo } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE } from '../../../fixtures/records.js';

// IPv4's own table: guests reach the host only with replies and with DNS to
// their own gateway, at a rate; loopback destinations are never forwarded.

const chain = (name: string) =>
  (new RegExp(`^\\tchain ${name} \\{\\n([\\s\\S]*?)\\n\\t\\}`, 'm').exec(NFT_TABLE)?.[1] ?? '').split('\n').map((l) => l.trim());

describe('firewall/nftables4: IPv4 table', () => {
  it('drops a DNS flood before it can pass as an established flow', () => {
    const input = chain('input');
    const rate = input.findIndex((r) => r.includes('@dns_rate') && r.endsWith(' drop'));
    assert.ok(rate > 0 && rate < input.indexOf('iifname @guest_links ct state established,related accept'));
  });

  it("accepts from guests at the host only replies and DNS to the guest's own gateway over its own link, then drops", () => {
    const accepts = chain('input').filter((r) => r.endsWith(' accept'));
    assert.deepEqual(accepts, [
      'iifname @guest_links ct state established,related accept',
      'iifname . ip daddr @dns_servers meta l4proto { tcp, udp } th dport 53 accept',
    ]);
    assert.equal(chain('input').at(-1), 'iifname @guest_links drop');
    const elements = inputTo(nftables.change(NO_RULES, installed(SAMPLE_RULE)), 'nft');
    assert.match(elements, /^add element ip guestnet dns_servers \{ "vm_wlan" \. 172\.17\.3\.2 \}$/m);
  });

  it('returns loopback destinations before any DNAT in prerouting, and masquerades loopback sources to guest links', () => {
    assert.equal(chain('prerouting')[1], 'ip daddr 127.0.0.0/8 return');
    assert.ok(chain('postrouting').includes('oifname @guest_links ip saddr 127.0.0.0/8 masquerade'));
  });

  it('maps published ports in prerouting and in output alike, so the host reaches them too', () => {
    const dnat = (rules: string[]) => rules.filter((r) => r.includes(' dnat '));
    assert.equal(dnat(chain('prerouting')).length, 2);
    assert.deepEqual(dnat(chain('output')), dnat(chain('prerouting')));
  });
});
