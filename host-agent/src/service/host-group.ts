import { applySetup, applyTeardown, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import { recordTypeOf } from '../model/link-type.js';
import { driverFor, planAttach } from '../drivers/index.js';
import { type AttachmentRecord, type GuestIdentity, isRouted, type RoutedVethRecord } from '../model/record.js';
import { inIpv6Chains } from '../model/rules.js';
import type { HostSettings } from '../model/settings.js';
import { joinsGroup, mergeAttachPlans } from '../plan/group.js';
import { planDetachRoutedGroup } from '../plan/planner.js';
import { observeHost } from '../observe.js';
import type { SetupOp } from '../plan/ops.js';
import type { AttachExtras } from './host-side.js';

// Group commit's host side: attaches that arrived together are planned
// together and applied as one plan (plan/group.ts), and so are detaches. Callers hold the state
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

/**
 * The routed guests among `leaving` (two or more) detached as one: one look
 * at their links, one plan (plan/planner.ts planDetachRoutedGroup), so one
 * firewall change and one process for their links. Resolves to the ids it
 * detached and the steps; undefined when fewer than two are routed, and
 * nothing was done. A failure is thrown, and whatever is left is a detach's
 * to remove: each then goes alone.
 */
export async function detachGroupHostSide(
  leaving: readonly AttachmentRecord[],
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
): Promise<{ ids: string[]; steps: OpTiming[] } | undefined> {
  const group = leaving.filter((r): r is RoutedVethRecord => isRouted(r));
  if (group.length < 2) return undefined;
  const ids = new Set(group.map((r) => r.id));
  const ipv6 = group.some((r) => r.ipv6 !== undefined);
  // As one guest's detach: the last guests whose rules are in IPv6's chains take them, and what iptables-nft made for them.
  const ipv6Chains = ipv6 && !records.some((r) => !ids.has(r.id) && inIpv6Chains(r));
  const observed = await observeHost(runner, ctx.stateDir, ctx.firewall, records, { links: group.map((r) => r.hostIf), ipv6, ipv6Chains });
  return { ids: [...ids], steps: await applyTeardown(planDetachRoutedGroup(observed, group), runner, ctx) };
}

/**
 * New attachments whose guest sides are done (a group commit's members): the
 * record of each that is still its attach's, and waits, stops waiting, all in
 * one record op. Each settles on its own: when that op fails it is undone
 * whole, and each goes alone, so a record that cannot be written fails alone.
 */
export async function settleGroupHostSide(
  members: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
): Promise<Array<PromiseSettledResult<void>>> {
  const settle = async (records: readonly AttachmentRecord[]) => {
    const waiting = new Map<string, AttachmentRecord>();
    for (const record of records) {
      const current = ctx.records.get(record.id);
      // Detached, or detached and attached again, meanwhile: that attachment is not this attach's to settle.
      if (current?.token === record.token && current.awaitingGuest) waiting.set(current.id, current);
    }
    const before = [...waiting.values()];
    const after = before.map(({ awaitingGuest: _, ...record }) => record);
    if (before.length > 0) await applySetup([{ kind: 'updateRecords', before, after }], runner, ctx);
  };
  const settled = (records: readonly AttachmentRecord[]) =>
    settle(records).then(
      (): PromiseSettledResult<void> => ({ status: 'fulfilled', value: undefined }),
      (reason: unknown): PromiseSettledResult<void> => ({ status: 'rejected', reason }),
    );
  const together = await settled(members);
  if (together.status === 'fulfilled' || members.length < 2) return members.map(() => together);
  const alone: Array<PromiseSettledResult<void>> = [];
  for (const member of members) alone.push(await settled([member]));
  return alone;
}
