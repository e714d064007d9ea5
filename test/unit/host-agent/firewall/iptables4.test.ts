import assert from 'node:assert/strict';
import { type GuestRule, iptables, ruleOf, type Step, stepsOf } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

// A --guest-config dhcp guest's client asks before it has an address:
// iptables' IPv4 rules let it reach the daemon's server from its own link.

const rule: GuestRule = ruleOf(sampleRecord({ pid: 4242, dns: ['172.17.3.2'], guestConfig: 'dhcp' }));
const plain: GuestRule = ruleOf(sampleRecord({ pid: 4243, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4', dns: [] }));
const installOf = (...guests: GuestRule[]) =>
  (
    stepsOf(
      { kind: 'setGuestRules', before: { installed: false, guests: [] }, after: { installed: true, guests } },
      { firewall: iptables('iptables'), stateDir: '/s' },
    ) as Array<Step & { kind: 'run' }>
  )[0]?.input ?? '';

describe('iptables: the rules of dhcp guests', () => {
  it('its link alone may send from 0.0.0.0 to port 67, and reach the server; no rule for other guests', () => {
    const lines = installOf(rule, plain).split('\n');
    for (const line of [
      '-A GUESTNET-ANTISPOOF -s 0.0.0.0/32 -i vm_wlan -p udp -m udp --sport 68 --dport 67 -j RETURN',
      '-A GUESTNET-INPUT -i vm_wlan -p udp -m udp --sport 68 --dport 67 -j ACCEPT',
    ])
      assert.ok(lines.includes(line), line);
    assert.ok(!lines.some((l) => /vm_wlan1 .*--dport 67/.test(l)));
    const accept = lines.indexOf('-A GUESTNET-INPUT -i vm_wlan -p udp -m udp --sport 68 --dport 67 -j ACCEPT');
    assert.ok(accept < lines.indexOf('-A GUESTNET-INPUT -i vm_wlan+ -j DROP'), 'before the drop');
  });
});
