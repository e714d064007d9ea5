import assert from 'node:assert/strict';
import { nftables } from '@guestnet/host-agent';
import { inputTo, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES } from '../../../fixtures/records.js';

// The forward and antispoof chains both nft tables share, as the order of
// their rules decides what a packet meets first.

const input = inputTo(nftables.change(NO_RULES, installed(withIpv6())), 'nft');
/** The rules of chain `name` in table `table`, in order. */
function chain(table: string, name: string): string[] {
  const body = new RegExp(`^table ${table} \\{$[\\s\\S]*?^\\tchain ${name} \\{\\n([\\s\\S]*?)\\n\\t\\}`, 'm').exec(input)?.[1];
  assert.ok(body, `no chain ${name} in ${table}`);
  return body.split('\n').map((l) => l.trim());
}
const index = (rules: string[], pattern: RegExp) => rules.findIndex((r) => pattern.test(r));

for (const table of ['ip guestnet', 'ip6 guestnet'])
  describe(`firewall/nft-forward: the shared chains (${table})`, () => {
    const forward = chain(table, 'forward');
    const antispoof = chain(table, 'antispoof');

    it('drops invalid packets before any accept, and every guest packet no rule accepted at the end', () => {
      const firstAccept = index(forward, / accept$/);
      assert.ok(firstAccept > 0);
      assert.ok(index(forward, /iifname @guest_links ct state invalid drop/) < firstAccept);
      assert.ok(index(forward, /oifname @guest_links ct state invalid drop/) < firstAccept);
      assert.deepEqual(forward.slice(-2), ['oifname @guest_links drop', 'iifname @guest_links drop']);
    });

    it('lets a guest out only to its own uplink, and the uplink in only with replies', () => {
      const inbound = forward.filter((r) => r.startsWith('oifname . iifname @forward_pairs'));
      assert.deepEqual(inbound, ['oifname . iifname @forward_pairs ct state established,related accept']);
      assert.ok(forward.includes('iifname . oifname @forward_pairs accept'));
    });

    it('clamps MSS to the path both ways before any verdict', () => {
      const mss = 'tcp flags syn tcp option maxseg size set rt mtu';
      assert.deepEqual(forward.slice(1, 3), [`iifname @guest_links ${mss}`, `oifname @guest_links ${mss}`], 'after the type line');
    });

    it("checks a guest link's source before conntrack, and before the link's accept", () => {
      assert.match(antispoof[0] ?? '', /hook prerouting priority raw;/);
      const check = index(antispoof, /iifname @guest_links iifname \. ip6? saddr != @guest_sources drop/);
      assert.ok(check > 0 && check < antispoof.indexOf('iifname @guest_links accept'));
      assert.ok(antispoof.indexOf('iif "lo" accept') < index(antispoof, /saddr @guest_addresses drop/), 'the host talks to itself');
      assert.match(antispoof.at(-1) ?? '', /daddr @gateways drop$/, 'a gateway only from guest links');
    });
  });
