import assert from 'node:assert/strict';
import { type AttachmentRecord, planAttach, planDetach } from '@guestnet/host-agent';
import { UsageError } from '@guestnet/protocol';
import { joinedOfEachType, lanHost } from '../../../fixtures/typed-records.js';

// What the types that join a network the host has share: no NAT and no rules
// of guestnet's, the record forgotten last and only while it is there, and
// an attach refused over another type or link, or onto a link the host lacks.

const joined = joinedOfEachType();
const nicBack = { guestAlive: true, onHost: 'eth2' };

describe('drivers/joined: what the types that join a network share', () => {
  it('plans no firewall, forwarding or route change for any of them', () => {
    for (const record of joined) {
      const kinds = [...planAttach(lanHost(), record), ...planDetach(lanHost([record]), record, nicBack)].map((o) => o.kind);
      for (const kind of kinds) assert.doesNotMatch(kind, /GuestRules|IpForward|Policy|Ipv6/, `${record.type}: ${kind}`);
    }
  });

  it('forgets the record last, and only while it is there', () => {
    for (const record of joined) {
      assert.equal(planDetach(lanHost([record]), record, nicBack).at(-1)?.kind, 'deleteRecord', record.type);
      assert.ok(!planDetach(lanHost(), record, nicBack).some((o) => o.kind === 'deleteRecord'), record.type);
    }
  });

  it('writes the record before any other change', () => {
    for (const record of joined) assert.equal(planAttach(lanHost(), record)[0]?.kind, 'writeRecord', record.type);
  });

  it('refuses an attach over the same guest of another type or link, naming how it is attached', () => {
    const [bridged, macvlan] = joined as [AttachmentRecord, AttachmentRecord];
    assert.throws(
      () => planAttach(lanHost([macvlan]), { ...macvlan, link: 'eth2' } as AttachmentRecord),
      (e: unknown) => e instanceof UsageError && e.message === 'pid 300 is already attached as macvlan on eth1; detach it first',
    );
    assert.throws(() => planAttach(lanHost([bridged]), macvlan), /already attached as veth on bridge br0; detach it first/);
  });
});
