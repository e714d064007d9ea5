import assert from 'node:assert/strict';
import { guestIpv6Of, inPrefix6, parsePool6, slaacAddressOf } from '@guestnet/host-agent';

describe('IPv6 pool arithmetic', () => {
  it('normalises a pool to its network', () => {
    assert.deepEqual(parsePool6('fd00:1::ffff/64'), { network: 0xfd000001n << 96n, prefixLength: 64 });
    assert.deepEqual(parsePool6('2001:db8:0:1:2::/96'), { network: 0x20010db8000000010002000000000000n, prefixLength: 96 });
  });

  it('tells whether an address lies in a prefix, at its edges too', () => {
    assert.equal(inPrefix6('2001:db8::1', '2001:db8::', 64), true);
    assert.equal(inPrefix6('2001:db8::ffff:ffff:ffff:ffff', '2001:db8::', 64), true);
    assert.equal(inPrefix6('2001:db8:0:1::', '2001:db8::', 64), false);
    assert.equal(inPrefix6('2001:db8:0:1::', '2001:db8::', 48), true);
  });

  it("gives a guest the pool's prefix and its IPv4 address in the last 32 bits, the host ::1", () => {
    assert.deepEqual(guestIpv6Of('2001:db8:5::/96', '192.0.2.7', 'routed', 'eth0'), {
      mode: 'routed',
      hostAddress: '2001:db8:5::1',
      guestAddress: '2001:db8:5::c000:207',
      prefixLength: 96,
      uplink: 'eth0',
    });
  });

  it("forms a guest kernel's SLAAC address: the /64 of an address and the modified EUI-64 of a MAC", () => {
    // As Linux forms it for 02:67:6e:11:03:03 (the universal/local bit flipped, ff:fe in the middle).
    assert.equal(slaacAddressOf('fd12:3456:789a:1::ac11:303', '02:67:6e:11:03:03'), 'fd12:3456:789a:1:67:6eff:fe11:303');
    assert.equal(slaacAddressOf('2001:db8::1', '00:1B:21:3A:4F:10'), '2001:db8::21b:21ff:fe3a:4f10');
  });
});
