import assert from 'node:assert/strict';
import { type EmptyRecord, planAttach, planDetach } from '@guestnet/host-agent';
import { UsageError } from '@guestnet/protocol';
import { joinedRecord, lanHost } from '../../../fixtures/typed-records.js';

// empty and none: no link. empty brings the guest's loopback up, none
// changes nothing but its record; detach forgets the record and nothing else
// (docs/network-types.md).

const empty = joinedRecord<EmptyRecord>({ type: 'empty', link: undefined, hostIf: 'lo' });
const none = joinedRecord({ type: 'none', link: undefined, hostIf: 'lo' });

describe('drivers/no-link: empty and none', () => {
  it('empty: the record, then the loopback up; none: the record only', () => {
    assert.deepEqual(planAttach(lanHost(), empty), [
      { kind: 'writeRecord', record: empty },
      { kind: 'setLoopbackUp', record: empty },
    ]);
    assert.deepEqual(planAttach(lanHost(), none), [{ kind: 'writeRecord', record: none }]);
  });

  it('completes an empty guest seen with its loopback down, and plans nothing for one attached', () => {
    const host = lanHost([empty]);
    assert.deepEqual(planAttach(host, empty, { guest: { ourLink: false, loopbackUp: false } }), [{ kind: 'setLoopbackUp', record: empty }]);
    assert.deepEqual(planAttach(host, empty, { guest: { ourLink: false, loopbackUp: true } }), []);
    assert.deepEqual(planAttach(lanHost([none]), none), []);
  });

  it("forgets the record on detach and leaves the guest's loopback as it is; a second detach plans nothing", () => {
    for (const record of [empty, none]) {
      assert.deepEqual(planDetach(lanHost([record]), record), [{ kind: 'deleteRecord', id: '300' }]);
      assert.deepEqual(planDetach(lanHost(), record), []);
    }
  });

  it('refuses to turn one into the other: detach first', () => {
    assert.throws(
      () => planAttach(lanHost([empty]), none),
      (e: unknown) => e instanceof UsageError && /already attached as empty/.test(e.message),
    );
  });
});
