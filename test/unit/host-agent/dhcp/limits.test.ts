import assert from 'node:assert/strict';
import { LinkRate, touchBounded } from '@guestnet/host-agent';

describe('DHCP limits', () => {
  it('a bounded map drops its least recently used key', () => {
    const map = new Map<string, number>();
    for (const key of ['a', 'b', 'c']) touchBounded(map, key, 1, 3);
    touchBounded(map, 'a', 2, 3);
    touchBounded(map, 'd', 1, 3);
    assert.deepEqual([...map.keys()], ['c', 'a', 'd']);
  });

  it('a link rate gives a burst, refills at its rate, and forgets links idle long enough to be full again', () => {
    const rate = new LinkRate(2, 4);
    const taken = Array.from({ length: 6 }, () => rate.take('vm_wlan', 0));
    assert.deepEqual(taken, [true, true, true, true, false, false]);
    assert.equal(rate.take('vm_wlan', 499), false);
    assert.equal(rate.take('vm_wlan', 1000), true);
    assert.equal(rate.take('vm_wlan1', 1000), true);
    rate.sweep(2000);
    assert.equal(rate.size, 2);
    rate.sweep(3001);
    assert.equal(rate.size, 0);
  });
});
