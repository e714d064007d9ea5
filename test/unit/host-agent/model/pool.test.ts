import assert from 'node:assert/strict';
import { inPool, overlaps, parsePool, rangeOf } from '@guestnet/host-agent';

describe('IPv4 pool arithmetic', () => {
  it('takes the network of a pool written with host bits, and its size', () => {
    assert.deepEqual(parsePool('172.17.3.3/16'), { network: 0xac110000, prefixLength: 16, size: 65536 });
    assert.deepEqual(parsePool('192.0.2.0/30'), { network: 0xc0000200, prefixLength: 30, size: 4 });
  });

  it('counts neither the network nor the broadcast address as in the pool', () => {
    const pool = parsePool('192.0.2.0/24');
    assert.equal(inPool(pool, '192.0.2.1'), true);
    assert.equal(inPool(pool, '192.0.2.254'), true);
    assert.equal(inPool(pool, '192.0.2.0'), false);
    assert.equal(inPool(pool, '192.0.2.255'), false);
    assert.equal(inPool(pool, '198.51.100.1'), false);
  });

  it('finds routes that overlap the pool, a bare address as a /32', () => {
    const pool = parsePool('172.17.0.0/16');
    assert.deepEqual(rangeOf('172.17.3.3'), [0xac110303, 0xac110303]);
    assert.deepEqual(rangeOf('10.0.0.0/8'), [0x0a000000, 0x0affffff]);
    assert.equal(overlaps(pool, rangeOf('172.17.3.0/24')), true, 'inside');
    assert.equal(overlaps(pool, rangeOf('172.0.0.0/8')), true, 'around');
    assert.equal(overlaps(pool, rangeOf('172.16.255.255')), false, 'just before');
    assert.equal(overlaps(pool, rangeOf('172.18.0.0/16')), false, 'just after');
  });
});
