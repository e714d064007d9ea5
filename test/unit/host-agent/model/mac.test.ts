import assert from 'node:assert/strict';
import { hostEndMac } from '@guestnet/host-agent';

describe('host-agent/model/mac: the host end MAC a routed pair is made with', () => {
  it("is the guest end's with 0x04 of the first octet flipped: unicast, locally administered, never the guest end's", () => {
    assert.equal(hostEndMac('02:67:6e:11:03:03'), '06:67:6e:11:03:03');
    for (const guest of ['02:67:6e:00:00:00', '06:aa:bb:cc:dd:ee', '0a:00:00:00:00:01', '00:11:22:33:44:55']) {
      const host = hostEndMac(guest);
      const first = Number.parseInt(host.slice(0, 2), 16);
      assert.notEqual(host, guest);
      assert.equal(first & 0x01, 0, 'unicast');
      assert.equal(first & 0x02, Number.parseInt(guest.slice(0, 2), 16) & 0x02, 'administered as the guest end is');
      assert.equal(host.slice(2), guest.slice(2));
    }
  });
});
