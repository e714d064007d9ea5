import assert from 'node:assert/strict';
import { type FirewallContent, nftables, parseNftTable } from '@guestnet/host-agent';
import { NO_RULES as none, SAMPLE_RULE as rule } from '../../../fixtures/records.js';

// nftables' tables drop only what is a guest link's: a bridged guest's port needs nothing of them.

describe('firewall/nftables: bridged guests need nothing of its tables', () => {
  const withPort = (content: FirewallContent): FirewallContent => ({ ...content, bridgedPorts: ['vm_br0'] });
  const routed: FirewallContent = { installed: true, guests: [rule], bridgedPorts: [] };

  it('a port alone makes no table, and a port beside routed guests changes nothing of theirs', () => {
    assert.deepEqual(nftables.change(none, withPort({ ...none, installed: true })), []);
    assert.deepEqual(nftables.change(withPort({ ...none, installed: true }), none), []);
    assert.deepEqual(nftables.change(withPort(none), withPort(routed)), nftables.change(none, routed));
    assert.deepEqual(nftables.change(routed, withPort(routed)), []);
    assert.deepEqual(
      nftables.change(withPort(routed), withPort({ ...routed, guests: [] })),
      nftables.change(routed, none),
      'the table goes with the last routed guest, whatever bridged guests remain',
    );
  });

  it('sees every port as let through, whatever its table holds', () => {
    assert.equal(parseNftTable('{"nftables": []}').hasPort('vm_br0'), true);
  });
});
