import assert from 'node:assert/strict';
import { dnsAddressesOf, guestConfigModeOf, isDhcpGuest } from '@guestnet/host-agent';
import { sampleRecord, typedRecord } from '../../../fixtures/records.js';

describe('who configures a guest', () => {
  it('is what its record says, else its agent for a process and the host for a CNI container, as every version did', () => {
    assert.equal(guestConfigModeOf(sampleRecord()), 'agent');
    assert.equal(guestConfigModeOf(sampleRecord({ guestConfig: 'dhcp' })), 'dhcp');
    const cni = { containerId: 'c0ffee', ifname: 'eth0' };
    assert.equal(guestConfigModeOf(sampleRecord({ pid: undefined, cni })), 'host');
    assert.equal(guestConfigModeOf(sampleRecord({ pid: undefined, cni, guestConfig: 'agent' })), 'agent');
    // A guest that joins a network is its network's or its agent's to configure.
    assert.equal(guestConfigModeOf(typedRecord({ type: 'veth', link: 'br0' })), 'agent');
  });

  it('tells a dhcp guest, whose own client the daemon answers, from every other', () => {
    assert.equal(isDhcpGuest(sampleRecord({ guestConfig: 'dhcp' })), true);
    assert.equal(isDhcpGuest(sampleRecord({ guestConfig: 'host' })), false);
    assert.equal(isDhcpGuest(sampleRecord()), false);
    assert.equal(isDhcpGuest(undefined), false);
  });

  it('has the forwarder answer every routed guest at its IPv4 gateway, and a dhcp guest with IPv6 at its IPv6 gateway too', () => {
    const ipv6 = {
      mode: 'nat' as const,
      hostAddress: 'fd00:1::1',
      guestAddress: 'fd00:1::67:6eff:fe11:303',
      prefixLength: 64,
      uplink: 'wlan0',
    };
    assert.deepEqual(dnsAddressesOf(sampleRecord({ guestConfig: 'dhcp', ipv6 })), ['172.17.3.2', 'fd00:1::1']);
    assert.deepEqual(dnsAddressesOf(sampleRecord({ guestConfig: 'dhcp' })), ['172.17.3.2']);
    // An agent's guest is handed its resolvers by its agent: no IPv6 listener for it.
    assert.deepEqual(dnsAddressesOf(sampleRecord({ ipv6 })), ['172.17.3.2']);
    assert.deepEqual(dnsAddressesOf(typedRecord({ type: 'veth', link: 'br0' })), []);
  });
});
