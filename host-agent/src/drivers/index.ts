import { UsageError } from '@guestnet/protocol';
import type { ExecContext, OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import type { HostObserved } from '../model/host.js';
import { describeType, type RecordType } from '../model/link-type.js';
import type { NicSeen } from '../model/nic.js';
import { type AttachmentRecord, guestLabel } from '../model/record.js';
import type { SetupOp, TeardownOp } from '../plan/ops.js';
import { planDetachAllRouted } from '../plan/planner.js';
import { bridgedVethDriver } from './bridged-veth.js';
import type { AttachOptions, LinkDriver } from './driver.js';
import { emptyDriver, noneDriver } from './no-link.js';
import { physDriver } from './phys.js';
import { routedVethDriver } from './routed-veth.js';
import { ipvlanDriver, macvlanDriver, vlanDriver } from './sublink.js';

export type { AttachExtras, AttachInput, AttachOptions, LinkDriver } from './driver.js';

const DRIVERS: { [T in RecordType]: LinkDriver<Extract<AttachmentRecord, { type: T }>> } = {
  'routed-veth': routedVethDriver,
  'bridged-veth': bridgedVethDriver,
  macvlan: macvlanDriver,
  ipvlan: ipvlanDriver,
  vlan: vlanDriver,
  phys: physDriver,
  empty: emptyDriver,
  none: noneDriver,
};

/** The one place a type picks its driver: a record of type T is always handed to T's driver. */
export const driverFor = (type: RecordType): LinkDriver<AttachmentRecord> => DRIVERS[type] as LinkDriver<AttachmentRecord>;

/**
 * The ops that take the host from `observed` to having `desired` attached;
 * empty when it already is. A guest attached as another type is refused.
 */
export function planAttach(observed: HostObserved, desired: AttachmentRecord, options: AttachOptions = {}): SetupOp[] {
  const existing = observed.records.find((r) => r.id === desired.id);
  if (existing && existing.type !== desired.type)
    throw new UsageError(`${guestLabel(desired)} is already attached as ${describeType(existing)}; detach it first`);
  return driverFor(desired.type).planAttach(observed, desired, existing, options);
}

/** The ops that remove everything `record` describes; `nic`: where a phys guest's NIC is now. */
export function planDetach(observed: HostObserved, record: AttachmentRecord, nic?: NicSeen): TeardownOp[] {
  return driverFor(record.type).planDetach(observed, record, nic);
}

/** Looks, plans and removes `record`'s attachment, as its type does it. */
export function detachRecord(
  record: AttachmentRecord,
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
): Promise<OpTiming[]> {
  return driverFor(record.type).detach(record, records, runner, ctx);
}

/**
 * The ops that remove every guest at once but the phys ones: each NIC is
 * taken back in rounds of its own (detachRecord), and may be withheld. The
 * other types' links go first, then the routed guests' firewall, links and
 * sysctls in a few steps however many there are, then the records.
 */
export function planDetachAll(observed: HostObserved): TeardownOp[] {
  const leaving = observed.records.filter((r) => r.type !== 'phys');
  const joined = leaving.filter((r) => r.type !== 'routed-veth');
  // The firewall goes whole, once, with the routed guests' (a bridged guest's port is in it too).
  const links = joined.flatMap((r) => planDetach({ ...observed, records: [] }, r)).filter((op) => op.kind !== 'setGuestRules');
  return [...links, ...planDetachAllRouted(observed, leaving)];
}
