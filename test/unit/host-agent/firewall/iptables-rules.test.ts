import assert from 'node:assert/strict';
import { iptables, parseIptablesSave } from '@guestnet/host-agent';
import { inputTo, linesStarting, savedAfter } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// The rules both families are made of: written in the order iptables-save
// prints them, so the drift check sees them; and the source checks of the
// antispoof chain.

const restore = (...rules: Parameters<typeof installed>) =>
  inputTo(iptables('iptables-legacy').change(NO_RULES, installed(...rules)), 'iptables-legacy-restore');

describe('firewall/iptables-rules: what both families are made of', () => {
  it('writes source, destination, in, out and protocol in the order iptables-save prints them, whatever order they were built in', () => {
    const bound = { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80, hostAddress: '198.51.100.2' };
    const text = restore({ ...SAMPLE_RULE, forwards: [bound] });
    const order = ['-s', '-d', '-i', '-o', '-p'];
    for (const line of linesStarting(text, '-A ')) {
      const head =
        line
          .split(/ -[mjg] /)[0]
          ?.split(' ')
          .filter((w) => w.startsWith('-') && w !== '-A') ?? [];
      const ranks = head.map((w) => order.indexOf(w));
      assert.deepEqual(ranks, [...ranks].sort(), line);
    }
    assert.match(text, /^-A GUESTNET-SOURCES -s 172\.17\.3\.3\/32 -i vm_wlan -j RETURN$/m);
    assert.match(text, /^-A GUESTNET-PREROUTING -d 198\.51\.100\.2\/32 -p tcp -m tcp --dport 8081 /m);
  });

  it('quotes comments as iptables-save does, so a forward reads back as in place', () => {
    const forwarded = { ...SAMPLE_RULE, forwards: [{ protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 }] };
    const save = savedAfter(restore(forwarded));
    assert.match(save, /--comment "guestnet:vm_wlan"/);
    assert.equal(parseIptablesSave(save).has(forwarded), true);
  });

  it('checks sources first in the forward and input chains, before any accept', () => {
    const text = restore(SAMPLE_RULE);
    for (const chain of ['GUESTNET-FORWARD', 'GUESTNET-INPUT'])
      assert.equal(linesStarting(text, `-A ${chain} `)[0], `-A ${chain} -j GUESTNET-ANTISPOOF`);
  });

  it("lets a guest's link carry only its guest's address, and that address come in on no other link", () => {
    const sources = linesStarting(restore(SAMPLE_RULE, SECOND_RULE), '-A GUESTNET-SOURCES ');
    assert.deepEqual(sources, [
      '-A GUESTNET-SOURCES -s 172.17.3.3/32 -i vm_wlan -j RETURN',
      '-A GUESTNET-SOURCES -s 172.17.3.4/32 -i vm_wlan1 -j RETURN',
      '-A GUESTNET-SOURCES -i vm_wlan+ -j DROP',
      '-A GUESTNET-SOURCES -s 172.17.3.3/32 -j DROP',
      '-A GUESTNET-SOURCES -s 172.17.3.4/32 -j DROP',
    ]);
  });

  it('drops what is addressed to a gateway from anywhere but a guest link or the host itself', () => {
    const antispoof = linesStarting(restore(SAMPLE_RULE), '-A GUESTNET-ANTISPOOF ');
    const drop = antispoof.indexOf('-A GUESTNET-ANTISPOOF -d 172.17.3.2/32 -j DROP');
    assert.ok(drop > antispoof.indexOf('-A GUESTNET-ANTISPOOF -i vm_wlan+ -j RETURN'));
    assert.ok(drop > antispoof.indexOf('-A GUESTNET-ANTISPOOF -i lo -j RETURN'));
  });
});
