import { BadPidError } from '@guestnet/protocol';
import { type AttachExtras, detachRecord, driverFor, planAttach, planDetachAll } from '../drivers/index.js';
import { applySetup, applyTeardown, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import { recordTypeOf } from '../model/link-type.js';
import type { PortForward } from '../model/port-forward.js';
import { type AttachmentRecord, type GuestIdentity, isRouted } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { observeHost } from '../observe.js';
import { planForward } from '../plan/planner.js';
import { rotateToken } from './rotation.js';

export type { AttachExtras } from '../drivers/index.js';

// The host-side halves of attach, detach and forward: observe, plan, apply,
// each through the driver of the record's type (drivers/). Callers hold the
// state lock; AttachmentService is the one caller.

export interface HostSideResult {
  record: AttachmentRecord;
  /** Whether the record is new: this attach made the attachment rather than repairing one. */
  created: boolean;
  /** Whether this attach made the guest's veth pair, rather than finding one (whose host end may predate its record). */
  pairMade: boolean;
  changed: boolean;
  steps: OpTiming[];
  /** A re-attach's new token for the guest's link. */
  rotation: OpTiming[];
}

/** Every type's attach: its driver looks and chooses the record, the plan is applied, a re-attach rotates the token. */
export async function attachHostSide(
  guest: GuestIdentity,
  settings: HostSettings,
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
  extras: AttachExtras = {},
): Promise<HostSideResult> {
  const existing = records.find((r) => r.id === guest.id);
  const driver = driverFor(recordTypeOf(settings));
  const { observed, desired, options } = await driver.prepare({ guest, settings, records, existing, runner, ctx, extras });
  const ops = planAttach(observed, desired, options);
  const steps = await applySetup(ops, runner, ctx);
  return {
    ...(await rotatedOnReattach(existing, desired, runner, ctx)),
    created: existing === undefined,
    pairMade: ops.some((op) => op.kind === 'createVeth'),
    changed: ops.length > 0,
    steps,
  };
}

/**
 * A re-attach gives the guest's link a new token (service/rotation.ts): what
 * a token that leaked was good for ends there. Not a change of the network:
 * `changed` does not count it, its steps are reported.
 */
export async function rotatedOnReattach(
  existing: AttachmentRecord | undefined,
  desired: AttachmentRecord,
  runner: Runner,
  ctx: ExecContext,
): Promise<{ record: AttachmentRecord; rotation: OpTiming[] }> {
  // The rotation rewrites the record as the attach's own ops left it (new forwards, say), not as it was found.
  const current = existing && ctx.records.get(existing.id);
  const rotation = current && (await rotateToken(current, runner, ctx));
  return { record: rotation ? { ...desired, token: rotation.token } : desired, rotation: rotation?.steps ?? [] };
}

export interface ForwardResult {
  id: string;
  forwards: PortForward[];
  changed: boolean;
}

export async function forwardHostSide(
  id: string,
  forward: PortForward,
  remove: boolean,
  runner: Runner,
  ctx: ExecContext,
): Promise<ForwardResult> {
  const observed = await observeHost(runner, ctx.stateDir, ctx.firewall, ctx.records.all());
  const record = observed.records.find((r) => r.id === id);
  if (!record) throw new BadPidError(`${/^\d+$/.test(id) ? `pid ${id}` : id} is not attached; attach it first`);
  const ops = planForward(observed, record, forward, remove);
  await applySetup(ops, runner, ctx);
  const update = ops.find((op) => op.kind === 'updateRecords');
  const after = update?.kind === 'updateRecords' ? update.after[0] : record;
  return { id, forwards: after && isRouted(after) ? after.forwards : [], changed: ops.length > 0 };
}

export interface DetachResult {
  id: string;
  wasAttached: boolean;
  steps: OpTiming[];
}

export async function detachHostSide(
  record: AttachmentRecord,
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
): Promise<DetachResult> {
  return { id: record.id, wasAttached: true, steps: await detachRecord(record, records, runner, ctx) };
}

/**
 * Every guest at once; one deep look serves them all. Phys guests' NICs come
 * back one by one first; one withheld fails the whole, after all the rest.
 */
export async function detachAllHostSide(runner: Runner, ctx: ExecContext): Promise<{ ids: string[]; steps: OpTiming[] }> {
  const observed = await observeHost(runner, ctx.stateDir, ctx.firewall, ctx.records.all());
  if (observed.records.length === 0) return { ids: [], steps: [] };
  const steps: OpTiming[] = [];
  const failures: unknown[] = [];
  for (const record of observed.records.filter((r) => r.type === 'phys'))
    await detachRecord(record, observed.records, runner, ctx).then(
      (done) => steps.push(...done),
      (error: unknown) => failures.push(error),
    );
  await applyTeardown(planDetachAll(observed), runner, ctx).then(
    (done) => steps.push(...done),
    (error: unknown) => failures.push(error),
  );
  if (failures.length > 0) throw failures[0];
  return { ids: observed.records.map((r) => r.id), steps };
}
