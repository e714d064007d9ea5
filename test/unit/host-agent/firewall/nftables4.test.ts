import assert from 'node:assert/strict';
import { type GuestRule, nftables, ruleOf, type Step, stepsOf } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

// A --guest-config dhcp guest's client asks before it has an address: IPv4's
// table lets it reach the daemon's server from its own link only, and only
// with its own MAC in the request.

const dhcpRecord = sampleRecord({ pid: 4242, dns: ['172.17.3.2'], guestConfig: 'dhcp' });
const rule: GuestRule = ruleOf(dhcpRecord);
const plain: GuestRule = ruleOf(sampleRecord({ pid: 4243, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4', dns: [] }));
const installOf = (...guests: GuestRule[]) =>
  (
    stepsOf(
      { kind: 'setGuestRules', before: { installed: false, guests: [] }, after: { installed: true, guests } },
      { firewall: nftables, stateDir: '/s' },
    ) as Array<Step & { kind: 'run' }>
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
