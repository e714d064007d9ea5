import assert from 'node:assert/strict';
import { type FirewallState, forwardInForce, type GuestRule } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

describe('published ports in force', () => {
  const web = { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80 };
  const dns = { protocol: 'udp' as const, hostPort: 5353, guestPort: 53 };
  const record = sampleRecord({ id: 'cni-abc-eth0', forwards: [web, dns] });
  // A firewall whose base holds the guest, and whose map lost the udp entry (a hand-edited ruleset, a partial flush).
  const holding = (installed: boolean): FirewallState => ({
    installed,
    has: (rule: GuestRule) => rule.hostIf === record.hostIf && rule.forwards.every((f) => f.protocol === 'tcp'),
    hasPort: () => false,
  });

  it('judges each forward by itself, with the rules of its guest', () => {
    assert.equal(forwardInForce(holding(true), record, web), true);
    assert.equal(forwardInForce(holding(true), record, dns), false);
  });

  it('counts none in force while the base of the firewall is missing (a firewall reload)', () => {
    assert.equal(forwardInForce(holding(false), record, web), false);
  });
});
