import assert from 'node:assert/strict';
import { raLinkOf } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

const ipv6 = {
  mode: 'nat' as const,
  hostAddress: 'fd00:1:2:3::1',
  guestAddress: 'fd00:1:2:3:67:6eff:fe11:303',
  prefixLength: 64,
  uplink: 'wlan0',
};

describe('router advertisements for dhcp guests', () => {
  it("advertise on a dhcp guest's host end the /64 its SLAAC address is in, the link's MTU, and its IPv6 gateway as RDNSS", () => {
    const record = sampleRecord({ guestConfig: 'dhcp', ipv6, mtu: 1400 });
    assert.deepEqual(raLinkOf(record), { link: 'vm_wlan', prefix: 'fd00:1:2:3::/64', rdnss: ['fd00:1:2:3::1'], mtu: 1400 });
  });

  it('say nothing on the link of a guest without IPv6, or of a guest its agent or the host configures', () => {
    assert.equal(raLinkOf(sampleRecord({ guestConfig: 'dhcp' })), undefined);
    assert.equal(raLinkOf(sampleRecord({ ipv6 })), undefined);
    assert.equal(raLinkOf(sampleRecord({ guestConfig: 'host', ipv6 })), undefined);
  });
});
