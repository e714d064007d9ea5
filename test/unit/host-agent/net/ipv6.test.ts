import assert from 'node:assert/strict';
import { defaultPool6 } from '@guestnet/host-agent';

describe("the host's IPv6", () => {
  it('the default pool is a ULA /64, the same for one machine id and different for another', () => {
    const pool = defaultPool6('0123456789abcdef0123456789abcdef\n');
    assert.match(pool, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}:6e74::\/64$/);
    assert.equal(defaultPool6('0123456789abcdef0123456789abcdef'), pool);
    assert.notEqual(defaultPool6('fedcba9876543210fedcba9876543210'), pool);
  });
});
