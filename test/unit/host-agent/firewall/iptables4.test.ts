import assert from 'node:assert/strict';
import { type GuestRule, iptables, ruleOf, type Step, stepsOf } from '@guestnet/host-agent';
import { inputTo, linesStarting } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, sampleRecord, SECOND_RULE } from '../../../fixtures/records.js';

// iptables' IPv4 rules of its own: guests reach the host only with replies and
// with DNS to their gateway, a flood of DNS dropped before it is accepted.

const restore = (...args: Parameters<ReturnType<typeof iptables>['change']>) =>
  inputTo(iptables('iptables-legacy').change(...args), 'iptables-legacy-restore');
const input = (rules = [SAMPLE_RULE]) => linesStarting(restore(NO_RULES, installed(...rules)), '-A GUESTNET-INPUT ');

describe('firewall/iptables4: IPv4 rules of its own', () => {
  it("accepts from guests at the host only DNS to their gateway and replies, and drops the rest of the link's", () => {
    const accepts = input().filter((l) => l.endsWith('-j ACCEPT'));
    assert.deepEqual(accepts, [
      '-A GUESTNET-INPUT -d 172.17.3.2/32 -i vm_wlan+ -p udp -m udp --dport 53 -j ACCEPT',
      '-A GUESTNET-INPUT -d 172.17.3.2/32 -i vm_wlan+ -p tcp -m tcp --dport 53 -j ACCEPT',
      '-A GUESTNET-INPUT -i vm_wlan+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ]);
    assert.equal(input().at(-1), '-A GUESTNET-INPUT -i vm_wlan+ -j DROP');
  });

  it('drops a DNS flood from one guest before its DNS is accepted', () => {
    const rules = input();
    const flood = rules.findIndex((l) => l.includes('--hashlimit-mode srcip') && l.endsWith('-j DROP'));
    assert.ok(flood >= 0 && flood < rules.findIndex((l) => l.includes('--dport 53 -j ACCEPT')));
  });

  it('writes DNS rules once per gateway of a link family, however many guests it has', () => {
    assert.deepEqual(input([SAMPLE_RULE, SECOND_RULE]), input());
    assert.equal(input([SAMPLE_RULE, { ...SECOND_RULE, gateway: '172.17.3.1' }]).length, input().length + 3);
  });

  it('sends a published port to the guest as address:port', () => {
    const forwarded = restore(NO_RULES, installed({ ...SAMPLE_RULE, forwards: [{ protocol: 'tcp', hostPort: 5555, guestPort: 5037 }] }));
    assert.match(forwarded, /-j DNAT --to-destination 172\.17\.3\.3:5037$/m);
  });

  it('never forwards a packet addressed to a loopback address, and masquerades loopback sources to guest links', () => {
    const text = restore(NO_RULES, installed(SAMPLE_RULE));
    assert.deepEqual(linesStarting(text, '-A GUESTNET-PREROUTING'), ['-A GUESTNET-PREROUTING -d 127.0.0.0/8 -j RETURN']);
    assert.match(text, /^-A GUESTNET-POSTROUTING -s 127\.0\.0\.0\/8 -o vm_wlan\+ -j MASQUERADE$/m);
  });
});

// A --guest-config dhcp guest's client asks before it has an address:
// iptables' IPv4 rules let it reach the daemon's server from its own link.

const rule: GuestRule = ruleOf(sampleRecord({ pid: 4242, dns: ['172.17.3.2'], guestConfig: 'dhcp' }));
const plain: GuestRule = ruleOf(sampleRecord({ pid: 4243, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4', dns: [] }));
const installOf = (...guests: GuestRule[]) =>
  (
    stepsOf(
      { kind: 'setGuestRules', before: NO_RULES, after: installed(...guests) },
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
