import assert from 'node:assert/strict';
import { guestIpv6Of, inPrefix6, parsePool6 } from '@guestnet/host-agent';

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
});
