import assert from 'node:assert/strict';
import { guestConfigModeOf, isDhcpGuest } from '@guestnet/host-agent';
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
});
