import assert from 'node:assert/strict';
import { iptables } from '@guestnet/host-agent';
import { inputTo, linesStarting } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

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
