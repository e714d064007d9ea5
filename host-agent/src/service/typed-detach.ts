import { GuestWithholdsError } from '@guestnet/protocol';
import { applyTeardown, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import { typeOf } from '../model/link-type.js';
import { type AttachmentRecord, guestLabel } from '../model/record.js';
import { locateNic } from '../net/links.js';
import { observeHost } from '../observe.js';
import { passingName } from '../plan/link-types.js';
import { planDetach } from '../plan/planner.js';
import { guestAlive } from './preflight.js';

/**
 * A fetch, a look, then the restore; a guest that keeps swapping links under
 * the NIC's feet is sent its links back each time, and is told it withholds
 * the NIC once these rounds are spent.
 */
const ROUNDS = 4;

/**
 * Takes a guest of any type but the routed veth away. These have no rules
 * of ours, so a look at their own link is all a detach needs. A phys NIC
 * comes back in rounds (plan/link-types.ts, planReturnPhys): each looks for
 * it by its identity, and applies its ops one by one, stopping at the first
 * failure, so the record stays until the NIC is back.
 */
export async function detachTyped(
  record: AttachmentRecord,
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
): Promise<OpTiming[]> {
  const observe = () => observeHost(runner, ctx.stateDir, ctx.firewall, records, { links: [record.hostIf] });
  if (typeOf(record) !== 'phys') return applyTeardown(planDetach(await observe(), record), runner, ctx);
  const steps: OpTiming[] = [];
  const passing = passingName(record);
  for (let round = 0; round < ROUNDS; round++) {
    const [observed, alive] = await Promise.all([observe(), guestAlive(record)]);
    const ops = planDetach(observed, record, await locateNic(runner, record, { guestAlive: alive, passing }));
    for (const op of ops) steps.push(...(await applyTeardown([op], runner, ctx)));
    if (ops.length === 0 || ops.some((op) => op.kind === 'restorePhys' || op.kind === 'deleteRecord') || runner.dryRun) return steps;
  }
  throw new GuestWithholdsError(
    `NIC withheld by the guest: ${guestLabel(record)} kept putting other links where ${record.link} was; the record is kept`,
  );
}
