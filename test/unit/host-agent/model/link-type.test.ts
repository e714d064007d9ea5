import assert from 'node:assert/strict';
import { describeType, hasGuestLinkType, LINK_TYPES, RECORD_TYPES, recordTypeOf } from '@guestnet/host-agent';

// The network types (LXC's words) and the record types they make: a veth is
// routed unless it names a bridge; only empty and none have no link for an
// agent to configure.

describe('model/link-type: network types and record types', () => {
  it('makes a veth with --link a bridge port and one without a routed veth; every other type its own record type', () => {
    assert.equal(recordTypeOf({ type: 'veth' }), 'routed-veth');
    assert.equal(recordTypeOf({ type: 'veth', link: 'br0' }), 'bridged-veth');
    for (const type of LINK_TYPES.filter((t) => t !== 'veth')) {
      assert.equal(recordTypeOf({ type, link: 'eth1' }), type);
      assert.ok(RECORD_TYPES.includes(recordTypeOf({ type })), type);
    }
  });

  it('gives an agent a link to configure in every type but empty and none', () => {
    assert.deepEqual(
      RECORD_TYPES.filter((t) => !hasGuestLinkType(t)),
      ['empty', 'none'],
    );
  });

  it('names each type as status shows it, with its link and a vlan with its id; a missing field shows as ?', () => {
    assert.equal(describeType({ type: 'routed-veth' }), 'veth (routed)');
    assert.equal(describeType({ type: 'bridged-veth', link: 'br0' }), 'veth on bridge br0');
    assert.equal(describeType({ type: 'vlan', link: 'eth1', vlanId: 7 }), 'vlan 7 on eth1');
    assert.equal(describeType({ type: 'vlan' }), 'vlan ? on ?');
    assert.equal(describeType({ type: 'macvlan', link: 'eth1' }), 'macvlan on eth1');
    assert.equal(describeType({ type: 'empty' }), 'empty');
  });

  it('names every record type differently', () => {
    const names = RECORD_TYPES.map((type) => describeType({ type, link: 'x', vlanId: 1 }));
    assert.equal(new Set(names).size, RECORD_TYPES.length);
  });
});
