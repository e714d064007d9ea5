import assert from 'node:assert/strict';
import { linkStates } from '@guestnet/host-agent';

// Status reads links from sysfs, so that nothing it does can hang on a
// wedged netlink. Loopback exists in every netns, and needs no root to read.

describe('link state from sysfs', () => {
  it('reads a link that exists: up, with a carrier, and its counters as numbers', async () => {
    const lo = (await linkStates(['lo'])).get('lo');
    assert.ok(lo, 'lo was not read');
    assert.equal(lo.up, true);
    assert.equal(lo.lowerUp, true);
    for (const counters of [lo.rx, lo.tx]) {
      assert.ok(Number.isInteger(counters.packets) && counters.packets >= 0);
      assert.ok(Number.isInteger(counters.bytes) && counters.bytes >= 0);
    }
  });

  it('leaves out a link that does not exist, and a name that would leave /sys/class/net', async () => {
    const states = await linkStates(['lo', 'gn-absent0', '..', '../lo', 'lo']);
    assert.deepEqual([...states.keys()], ['lo']);
  });
});
