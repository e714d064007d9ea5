import type { HostObserved } from '../model/host.js';
import type { EmptyRecord, NoneRecord } from '../model/record.js';
import type { SetupOp } from '../plan/ops.js';
import type { AttachInput, AttachOptions, LinkDriver } from './driver.js';
import { baseOf, detachOnce, forgetting, observeRecords, refuseJoined } from './joined.js';

// The two types that give the guest no link: empty brings up its loopback,
// none touches nothing. No agent configures them, so no attach waits for one.

const prepare = async <R extends EmptyRecord | NoneRecord>(input: AttachInput, type: R['type']) => ({
  observed: await observeRecords(input),
  desired: { ...baseOf(input), type } as R,
  options: {},
});

export const emptyDriver: LinkDriver<EmptyRecord> = {
  prepare: (input) => prepare<EmptyRecord>(input, 'empty'),
  planAttach(observed: HostObserved, desired: EmptyRecord, existing: EmptyRecord | undefined, options: AttachOptions): SetupOp[] {
    refuseJoined(observed, desired, existing);
    // An attach cut short is completed where the guest's loopback is seen down.
    if (existing) return options.guest?.loopbackUp === false ? [{ kind: 'setLoopbackUp', record: existing }] : [];
    return [
      { kind: 'writeRecord', record: desired },
      { kind: 'setLoopbackUp', record: desired },
    ];
  },
  planDetach: forgetting,
  detach: (record, records, runner, ctx) => detachOnce(record, { links: [], firewall: false }, forgetting, records, runner, ctx),
};

export const noneDriver: LinkDriver<NoneRecord> = {
  prepare: (input) => prepare<NoneRecord>(input, 'none'),
  planAttach(observed, desired, existing) {
    refuseJoined(observed, desired, existing);
    return existing ? [] : [{ kind: 'writeRecord', record: desired }];
  },
  planDetach: forgetting,
  detach: (record, records, runner, ctx) => detachOnce(record, { links: [], firewall: false }, forgetting, records, runner, ctx),
};
