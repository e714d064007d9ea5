import assert from 'node:assert/strict';
import { type GuestRule, NFT_TABLE, nftables, ruleOf, type Step, stepsOf } from '@guestnet/host-agent';
import { inputTo } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, sampleRecord } from '../../../fixtures/records.js';

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

  it("accepts from guests at the host only replies, DNS to the guest's own gateway over its own link, and a dhcp guest's own requests, then drops", () => {
    const accepts = chain('input').filter((r) => r.endsWith(' accept'));
    assert.deepEqual(accepts, [
      'iifname @guest_links ct state established,related accept',
      'iifname . ip daddr @dns_servers meta l4proto { tcp, udp } th dport 53 accept',
      // The client's MAC in the request (chaddr, 36 bytes into UDP) must be its link's: dhcp_clients holds each dhcp guest's pair.
      'udp sport 68 udp dport 67 iifname . @th,288,48 @dhcp_clients accept',
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

// A --guest-config dhcp guest's client asks before it has an address: IPv4's
// table lets it reach the daemon's server from its own link only, and only
// with its own MAC in the request.

const dhcpRecord = sampleRecord({ pid: 4242, dns: ['172.17.3.2'], guestConfig: 'dhcp' });
const rule: GuestRule = ruleOf(dhcpRecord);
const plain: GuestRule = ruleOf(sampleRecord({ pid: 4243, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4', dns: [] }));
const installOf = (...guests: GuestRule[]) =>
  (
    stepsOf({ kind: 'setGuestRules', before: NO_RULES, after: installed(...guests) }, { firewall: nftables, stateDir: '/s' }) as Array<
      Step & { kind: 'run' }
    >
  )[0]?.input ?? '';

describe('nftables: the rules of dhcp guests', () => {
  it('its link and its link . MAC pair join the dhcp sets; a guest without dhcp adds none', () => {
    const input = installOf(rule, plain);
    const mac = `0x${dhcpRecord.guestMac.split(':').join('')}`;
    for (const element of [
      'add element ip guestnet dhcp_links { "vm_wlan" }',
      `add element ip guestnet dhcp_clients { "vm_wlan" . ${mac} }`,
      `add element ip guestnet dhcp_macs { ${mac} }`,
    ])
      assert.ok(input.split('\n').includes(element), element);
    assert.doesNotMatch(input, /dhcp_\w+ \{ "vm_wlan1"/);
    // The antispoof chain lets only a dhcp link's unaddressed client through, and only to port 67.
    assert.match(
      input,
      /\t\tudp dport 67 iifname @dhcp_links ip saddr 0\.0\.0\.0 udp sport 68 accept\n\t\tiifname @guest_links iifname \. ip saddr != @guest_sources drop/,
    );
  });
});
