import assert from 'node:assert/strict';
import { policyRouteOf, ruleOf } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

const ipv6 = { mode: 'nat' as const, hostAddress: 'fd00:1::1', guestAddress: 'fd00:1::ac11:303', prefixLength: 64, uplink: 'wlan0' };

describe("a guest's firewall rule and policy route", () => {
  it('gives a guest of a prefix family its wildcard, its pool as a network, and its gateway, uplink and forwards', () => {
    const forwards = [{ protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 }];
    assert.deepEqual(ruleOf(sampleRecord({ hostIf: 'vm_wlan3', hostIfPrefix: 'vm_wlan', guestAddress: '172.17.3.7', forwards })), {
      hostIf: 'vm_wlan3',
      linkFamily: 'vm_wlan+',
      pool: '172.17.0.0/16',
      guestAddress: '172.17.3.7',
      gateway: '172.17.3.2',
      uplink: 'wlan0',
      openToGuests: false,
      forwards,
    });
  });

  it('never makes a wildcard of a chosen --host-if', () => {
    assert.equal(ruleOf(sampleRecord({ hostIf: 'eth5', hostIfPrefix: undefined })).linkFamily, 'eth5');
    assert.equal(ruleOf(sampleRecord({ hostIf: 'eth5', hostIfPrefix: 'vm_wlan' })).linkFamily, 'eth5');
  });

  it("carries a guest's IPv6 rule: its prefix as a network, masquerade only for nat", () => {
    assert.deepEqual(ruleOf(sampleRecord({ ipv6 })).ipv6, {
      guestAddress: 'fd00:1::ac11:303',
      gateway: 'fd00:1::1',
      pool: 'fd00:1::/64',
      uplink: 'wlan0',
      masquerade: true,
    });
    assert.equal(ruleOf(sampleRecord({ ipv6: { ...ipv6, mode: 'routed' } })).ipv6?.masquerade, false);
    assert.equal('ipv6' in ruleOf(sampleRecord()), false);
  });

  it('gives a policy route only on a netd-style host, with the IPv6 address when the guest has one', () => {
    assert.equal(policyRouteOf(sampleRecord()), undefined);
    assert.deepEqual(policyRouteOf(sampleRecord({ policyTable: 1003, ipv6 })), {
      hostIf: 'vm_wlan',
      guestAddress: '172.17.3.3',
      gateway: '172.17.3.2',
      table: 1003,
      guestAddress6: 'fd00:1::ac11:303',
    });
  });
});

describe("a dhcp guest's firewall rule", () => {
  it('carries its MAC; others carry none', () => {
    const dhcpRecord = sampleRecord({ pid: 4242, dns: ['172.17.3.2'], guestConfig: 'dhcp' });
    assert.deepEqual(ruleOf(dhcpRecord).dhcp, { mac: dhcpRecord.guestMac });
    assert.equal(ruleOf(sampleRecord({ pid: 4243, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4', dns: [] })).dhcp, undefined);
  });
});
