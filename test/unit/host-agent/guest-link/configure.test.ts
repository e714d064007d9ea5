import assert from 'node:assert/strict';
import { guestConfigOf } from '@guestnet/host-agent';
import { sampleRecord, typedRecord } from '../../../fixtures/records.js';

describe("a guest's configure", () => {
  it('tells the guest its name, MTU, address, gateway and resolvers, and IPv6 when it has some', () => {
    assert.deepEqual(guestConfigOf(sampleRecord({ mtu: 1400 })), {
      token: `guestnet:${'a'.repeat(32)}`,
      link: { rename: 'wlan0', mtu: 1400, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' },
      dns: ['192.0.2.53'],
    });
    const ipv6 = { mode: 'nat' as const, hostAddress: 'fd00:1::1', guestAddress: 'fd00:1::ac11:303', prefixLength: 64, uplink: 'wlan0' };
    assert.deepEqual(guestConfigOf(sampleRecord({ ipv6 })).link.ipv6, {
      address: 'fd00:1::ac11:303',
      prefixLength: 64,
      gateway: 'fd00:1::1',
    });
  });

  it('leaves the address to DHCP with the placeholders the protocol takes', () => {
    assert.deepEqual(guestConfigOf(typedRecord({ type: 'veth', link: 'br0', dhcp: true })).link, {
      rename: 'wlan0',
      mtu: 1500,
      address: '0.0.0.0',
      prefixLength: 1,
      gateway: '0.0.0.0',
      dhcp: true,
    });
  });
});
