import assert from 'node:assert/strict';
import { type SetupOp, undoOf } from '@guestnet/host-agent';
import { sampleRecord, SAMPLE_RULE as rule, installed, NO_RULES as none, SECOND_RULE as second } from '../../../fixtures/records.js';

const record = sampleRecord({ pid: 4242, dns: [], token: `guestnet:${'b'.repeat(32)}` });

describe('host ops: inverses', () => {
  it('undoes every setup op', () => {
    const ops: SetupOp[] = [
      { kind: 'writeRecord', record },
      { kind: 'createVeth', record },
      { kind: 'enableIpForward', before: '0' },
      { kind: 'setGuestRules', before: none, after: installed(second, rule) },
      { kind: 'updateRecords', before: [record], after: [{ ...record, forwards: [] }] },
    ];
    assert.deepEqual(ops.map(undoOf), [
      { kind: 'deleteRecord', id: '4242' },
      { kind: 'deleteLink', name: 'vm_wlan' },
      { kind: 'restoreIpForward', value: '0' },
      { kind: 'setGuestRules', before: installed(second, rule), after: none },
      { kind: 'updateRecords', before: [{ ...record, forwards: [] }], after: [record] },
    ]);
  });
});
