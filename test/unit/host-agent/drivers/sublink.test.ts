import assert from 'node:assert/strict';
import { planAttach, planDetach, type SublinkRecord } from '@guestnet/host-agent';
import { UsageError } from '@guestnet/protocol';
import { joinedRecord, lanHost, undoKinds } from '../../../fixtures/typed-records.js';

// macvlan, ipvlan and vlan: a link made from a parent, directly in the guest.
// The record is written before the link; detach deletes the link and forgets
// the record last; a re-attach completes only what is missing.

const sublinks = [
  joinedRecord<SublinkRecord>({ type: 'macvlan', macvlanMode: 'bridge' }),
  joinedRecord<SublinkRecord>({ type: 'ipvlan', ipvlanMode: 'l2' }),
  joinedRecord<SublinkRecord>({ type: 'vlan', vlanId: 7 }),
];

for (const record of sublinks)
  describe(`drivers/sublink: ${record.type}`, () => {
    it('writes the record before it makes the link, and its detach is the attach undone in reverse', () => {
      const attach = planAttach(lanHost(), record);
      assert.deepEqual(
        attach.map((o) => o.kind),
        ['writeRecord', 'createSublink'],
      );
      assert.deepEqual(
        planDetach(lanHost([record]), record).map((o) => o.kind),
        undoKinds(attach),
      );
    });

    it('plans nothing for a guest seen with its link, and makes only the link of one seen without it', () => {
      const host = lanHost([record]);
      assert.deepEqual(planAttach(host, record, { guest: { ourLink: true, loopbackUp: true } }), []);
      assert.deepEqual(planAttach(host, record), [], 'not looked at: nothing to complete');
      assert.deepEqual(planAttach(host, record, { guest: { ourLink: false, loopbackUp: true } }), [{ kind: 'createSublink', record }]);
    });

    it('refuses a parent link the host lacks, but not on a re-attach whose parent has gone since', () => {
      const host = lanHost();
      host.links = new Set(['lo', 'wlan0']);
      assert.throws(() => planAttach(host, record), /^UsageError: --link eth1 does not exist on the host$/);
      assert.deepEqual(planAttach({ ...host, records: [record] }, record), []);
    });

    it('refuses a re-attach on another parent: detach first', () => {
      const moved = { ...record, link: 'eth2' };
      assert.throws(() => planAttach(lanHost([record]), moved), UsageError);
    });

    it('deletes the link again on a second detach whose record is gone, and forgets nothing twice', () => {
      assert.deepEqual(planDetach(lanHost(), record), [{ kind: 'deleteSublinks', record }]);
    });
  });
