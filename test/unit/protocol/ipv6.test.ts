import assert from 'node:assert/strict';
import { bigIntToIpv6, canonicalIpv6, checkIPv6, ipv6ToBigInt, parseGuestMessage, parseHostMessage } from '@guestnet/protocol';

describe('IPv6 addresses', () => {
  it('prints addresses the way ip does: the longest zero run shortened, a single zero group kept', () => {
    for (const [written, shown] of [
      ['fd00:0:0:0:0:0:0:1', 'fd00::1'],
      ['2001:DB8::ac11:303', '2001:db8::ac11:303'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:db8:1:0:0:1:0:0', '2001:db8:1::1:0:0'],
      ['::', '::'],
      ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
    ])
      assert.equal(canonicalIpv6(written as string), shown);
  });

  it('round-trips through numbers', () => {
    assert.equal(ipv6ToBigInt('::1'), 1n);
    assert.equal(bigIntToIpv6(ipv6ToBigInt('fd12:3456:789a:6e74::ac11:303')), 'fd12:3456:789a:6e74::ac11:303');
  });

  it('takes neither zone indices nor embedded IPv4 from outside', () => {
    for (const bad of ['fe80::1%eth0', '::ffff:1.2.3.4', '1::2::3', 'fd00::g', 7]) assert.equal(checkIPv6(bad).ok, false, String(bad));
    assert.equal(checkIPv6('fd00::1').ok, true);
  });
});

describe('protocol: IPv6 in configure and applied', () => {
  const mac = 'a'.repeat(64);
  const id = 'b'.repeat(32);
  const link = { rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' };
  const ipv6 = { address: 'fd00::ac11:303', prefixLength: 64, gateway: 'fd00::1' };

  it('a configure may carry link.ipv6; IPv4 alone stays valid', () => {
    const parsed = parseHostMessage({ type: 'configure', id, seq: 1, link: { ...link, ipv6 }, dns: [], mac });
    assert.deepEqual(parsed.type === 'configure' ? parsed.link.ipv6 : undefined, ipv6);
    const plain = parseHostMessage({ type: 'configure', id, seq: 1, link, dns: [], mac });
    assert.equal(plain.type === 'configure' && 'ipv6' in plain.link, false);
  });

  it('refuses a bad IPv6 address, a prefix outside 64..120, and unknown fields in it', () => {
    for (const bad of [
      { ...ipv6, address: '172.17.3.3' },
      { ...ipv6, prefixLength: 48 },
      { ...ipv6, extra: 1 },
    ]) {
      assert.throws(() => parseHostMessage({ type: 'configure', id, seq: 1, link: { ...link, ipv6: bad }, dns: [], mac }), /ipv6/);
    }
  });

  it("a guest's applied state may report IPv6; a bad one is refused", () => {
    const state = { name: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2', ipv6, dns: [] };
    const applied = parseGuestMessage({ type: 'applied', id, seq: 1, ok: true, changes: 2, state, mac });
    assert.deepEqual(applied.type === 'applied' && applied.ok ? applied.state.ipv6 : undefined, ipv6);
    assert.throws(
      () =>
        parseGuestMessage({ type: 'applied', id, seq: 1, ok: true, changes: 2, state: { ...state, ipv6: { ...ipv6, gateway: 'x' } }, mac }),
      /ipv6\.gateway/,
    );
  });
});
