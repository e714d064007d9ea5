import assert from 'node:assert/strict';
import { type AttachmentRecord, planAttach, planDetachAll } from '@guestnet/host-agent';
import { UsageError } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedOfEachType, lanHost } from '../../../fixtures/typed-records.js';

// The one place a record's type picks its driver: a guest attached as one
// type is never re-attached as another, and detach --all takes every guest
// but the phys ones, whose NICs come back in rounds of their own.

const ofEachType: AttachmentRecord[] = [sampleRecord({ pid: 300 }), ...joinedOfEachType()];

describe("drivers/index: a record goes to its own type's driver", () => {
  it('covers every record type', () => {
    assert.deepEqual(
      ofEachType.map((r) => r.type),
      ['routed-veth', 'bridged-veth', 'macvlan', 'ipvlan', 'vlan', 'phys', 'empty', 'none'],
    );
  });

  it('refuses to attach a guest as another type than it is attached as, whichever two types', () => {
    for (const existing of ofEachType)
      for (const desired of ofEachType.filter((r) => r.type !== existing.type))
        assert.throws(
          () => planAttach(lanHost([existing]), desired, { force: true }),
          (e: unknown) => e instanceof UsageError && /^pid 300 is already attached as .*; detach it first$/.test(e.message),
          `${existing.type} then ${desired.type}`,
        );
  });

  it('takes every guest but the phys ones in detach --all, the joined ones before the routed', () => {
    const records = ofEachType.map((r, i) => ({ ...r, id: String(300 + i), pid: 300 + i }) as AttachmentRecord);
    const host = { ...lanHost(records, ['vm_wlan', 'vm_br']), aliases: new Map([['vm_br', 'guestnet-host:301']]) };
    const ops = planDetachAll(host);
    const forgotten = ops.flatMap((o) => (o.kind === 'deleteRecord' ? [o.id] : []));
    assert.deepEqual(forgotten.sort(), ['300', '301', '302', '303', '304', '306', '307'], 'all but the phys guest (305)');
    const lastJoined = ops.findIndex((o) => o.kind === 'deleteSublinks' && o.record.type === 'vlan');
    const firstRouted = ops.findIndex((o) => o.kind === 'setGuestRules' || o.kind === 'deleteLinks');
    assert.ok(lastJoined >= 0 && firstRouted > lastJoined, ops.map((o) => o.kind).join(' '));
  });
});
