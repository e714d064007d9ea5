import assert from 'node:assert/strict';
import { type GuestRule, type SetupOp, undoOf } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

const record = sampleRecord({ pid: 4242, dns: [], token: `guestnet:${'b'.repeat(32)}` });
const rule: GuestRule = {
  hostIf: 'vm_wlan',
  linkFamily: 'vm_wlan+',
  pool: '172.17.0.0/16',
  guestAddress: '172.17.3.3',
  gateway: '172.17.3.2',
  uplink: 'wlan0',
  openToGuests: false,
  forwards: [],
};
const installed = (...guests: GuestRule[]) => ({ installed: true, guests });
const none = { installed: false, guests: [] };
const second: GuestRule = { ...rule, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4' };

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
