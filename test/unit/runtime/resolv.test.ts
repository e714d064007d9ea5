import assert from 'node:assert/strict';
import { nameservers } from '@guestnet/runtime';

describe('resolv.conf nameservers', () => {
  it('lists the IPv4 nameservers in order, skipping comments, IPv6 and anything malformed', () => {
    const conf = [
      '# generated',
      'nameserver 192.0.2.53',
      '  nameserver\t198.51.100.1  # trailing',
      '#nameserver 203.0.113.9',
      'nameserver 2001:db8::53',
      'nameserver 300.1.1.1',
      'nameserver',
      'search example.org',
      'nameserver 203.0.113.1',
    ].join('\n');
    assert.deepEqual(nameservers(conf), ['192.0.2.53', '198.51.100.1', '203.0.113.1']);
    assert.deepEqual(nameservers(''), []);
  });
});
