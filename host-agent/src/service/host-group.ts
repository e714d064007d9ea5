import { applySetup, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import { recordTypeOf } from '../model/link-type.js';
import { driverFor, planAttach } from '../drivers/index.js';
import type { AttachmentRecord, GuestIdentity } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { joinsGroup, mergeAttachPlans } from '../plan/group.js';
import type { SetupOp } from '../plan/ops.js';
import type { AttachExtras } from './host-side.js';

// Group commit's host side: attaches that arrived together are planned
// together and applied as one plan (plan/group.ts). Callers hold the state
// lock; AttachmentService is the one caller.

export interface GroupMember {
  guest: GuestIdentity;
  settings: HostSettings;
  extras: AttachExtras;
}

/** A member that joined the group: its record as the group wrote it, and the group's steps. */
export interface Joined {
  record: AttachmentRecord;
  /** Whether its record says it waits for its guest agent (see AttachmentService.attach). */
  marked: boolean;
  steps: OpTiming[];
}

/**
 * Plans every new routed guest among `members` against the records and the
 * members planned before it, and applies their plans as one. Returns, per
 * member, what it got, or undefined for one that did not join (a re-attach,
 * another link type, a plan of its own that failed: it goes alone, and fails
 * alone). With fewer than two joining, nobody joins. When the group's plan
 * fails it is undone whole and the error thrown: the caller then takes every
 * member alone.
 */
export async function attachGroupHostSide(
  members: readonly GroupMember[],
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
): Promise<Array<Joined | undefined>> {
  const planned: AttachmentRecord[] = [];
  const plans: SetupOp[][] = [];
  const joined: Array<AttachmentRecord | undefined> = [];
  for (const { guest, settings, extras } of members) {
    const taken = [...records, ...planned];
    const plan =
      recordTypeOf(settings) === 'routed-veth' && !taken.some((r) => r.id === guest.id)
        ? await driverFor('routed-veth')
            .prepare({ guest, settings, records: taken, existing: undefined, runner, ctx, extras })
            .then(
              ({ observed, desired, options }) => ({ desired, ops: planAttach(observed, desired, options) }),
              () => undefined,
            )
        : undefined;
    if (!plan || !joinsGroup(plan.ops)) {
      joined.push(undefined);
      continue;
    }
    plans.push(plan.ops);
    planned.push(plan.desired);
    joined.push(plan.desired);
  }
  if (planned.length < 2) return members.map(() => undefined);
  const waits = (i: number) => members[i]?.extras.waitsForAgent === true;
  const marks = joined.flatMap((record, i) => (record && waits(i) ? [record] : []));
  // Their records say they wait once their host side is in place, as a single attach's do: the mark comes last.
  const mark: SetupOp[] =
    marks.length > 0 ? [{ kind: 'updateRecords', before: marks, after: marks.map((r) => ({ ...r, awaitingGuest: true as const })) }] : [];
  const steps = await applySetup([...mergeAttachPlans(plans), ...mark], runner, ctx);
  return joined.map((record, i) => record && { record, marked: waits(i), steps });
}
