import assert from 'node:assert/strict';
import { parseLeaseLine } from '@guestnet/guest-agent';

describe('DHCP: what udhcpc reports through our event script', () => {
  it('a bound or renewed lease gives address, prefix, the first router and up to four resolvers', () => {
    assert.deepEqual(parseLeaseLine('guestnet-lease bound 192.168.77.107 24 192.168.77.1 192.168.77.1 9.9.9.9'), {
      address: '192.168.77.107',
      prefixLength: 24,
      gateway: '192.168.77.1',
      dns: ['192.168.77.1', '9.9.9.9'],
    });
    assert.equal(parseLeaseLine('guestnet-lease deconfig    ')?.address, undefined);
    assert.equal(parseLeaseLine('guestnet-lease bound 192.168.77.107 24'), undefined, 'a lease without a router is not applied');
    assert.equal(parseLeaseLine('guestnet-lease bound 192.168.77.107 33 192.168.77.1'), undefined);
    assert.equal(parseLeaseLine('udhcpc: sending discover'), null);
  });
});
