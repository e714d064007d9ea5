import assert from 'node:assert/strict';
import { type FirewallContent, iptables, parseIptablesSave } from '@guestnet/host-agent';
import { inputTo, savedAfter, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// Reading the chains back compares each rule as iptables-save prints it: what
// an install wrote is seen as in place, and any rule of a guest missing makes
// that guest incomplete.

const legacy = iptables('iptables-legacy');
const saveOf = (content: FirewallContent, binary = 'iptables-legacy-restore') =>
  savedAfter(inputTo(legacy.change(NO_RULES, content), binary));
const adb = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };
const guest = withIpv6({ ...SAMPLE_RULE, forwards: [adb], openToGuests: true });
const content = installed(guest, SECOND_RULE);

describe('firewall/iptables-save: reading the chains back', () => {
  it('sees what an install wrote as installed, every guest of it whole', () => {
    const state = parseIptablesSave(saveOf(content), saveOf(content, 'ip6tables-legacy-restore'));
    assert.equal(state.installed, true);
    assert.deepEqual([state.has(guest), state.has(SECOND_RULE)], [true, true]);
    assert.equal(state.has({ ...SECOND_RULE, hostIf: 'vm_wlan2' }), false, 'a guest never installed');
  });

  it('counts a guest with IPv6 whole only with its side in the ip6tables save; one without IPv6 needs none', () => {
    const state = parseIptablesSave(saveOf(content));
    assert.equal(state.has(guest), false, 'no ip6tables save read: rewritten, never missed');
    assert.equal(state.has(SECOND_RULE), true);
    assert.equal(parseIptablesSave(saveOf(content), '').has(guest), false, 'ip6tables holds nothing');
  });

  it('takes a guest as incomplete when any one of its rules is missing', () => {
    const save = saveOf(installed(SECOND_RULE));
    const lines = save.split('\n');
    const own = lines.filter((l) => l.startsWith('-A ') && !parseIptablesSave(lines.filter((m) => m !== l).join('\n')).has(SECOND_RULE));
    assert.ok(own.includes('-A GUESTNET-SOURCES -s 172.17.3.4/32 -i vm_wlan1 -j RETURN'), 'its source check is its own');
    assert.ok(own.includes('-A GUESTNET-FORWARD -i vm_wlan+ -o wlan0 -j ACCEPT'), 'so is the way out it shares');
    const withForward = saveOf(installed({ ...SECOND_RULE, forwards: [adb] }));
    for (const chain of ['PREROUTING', 'OUTPUT']) {
      const without = withForward.split('\n').filter((l) => !l.startsWith(`-A GUESTNET-${chain} -p tcp`));
      assert.equal(parseIptablesSave(without.join('\n')).has({ ...SECOND_RULE, forwards: [adb] }), false, chain);
    }
  });

  it('takes the chains as not installed where an owned chain is missing, and counts their jumps found by family', () => {
    const save = saveOf(installed(SAMPLE_RULE));
    assert.equal(parseIptablesSave(save.replace(':GUESTNET-OPEN-TO - [0:0]\n', '')).installed, false);
    const state = parseIptablesSave(save, saveOf(installed(withIpv6()), 'ip6tables-legacy-restore'));
    assert.equal(state.found?.['4 filter -A FORWARD -j GUESTNET-FORWARD'], 1);
    assert.equal(state.found?.['6 filter -A FORWARD -j GUESTNET-FORWARD'], 1);
    assert.equal(state.found?.['6 nat -A PREROUTING -m addrtype --dst-type LOCAL -j GUESTNET-PREROUTING'], 1);
  });
});
