import { AgentError } from '@guestnet/protocol';
import { describeOp, isRecordOp, type Op, type SetupOp, undoOf } from '../plan/ops.js';
import type { RecordStore } from '../state/store.js';
import type { Runner } from './runner.js';
import { secretsIn, type StepContext, stepsOf } from './steps.js';

/** What an applied op reports: what it meant, and how long it took. */
export interface OpTiming {
  op: string;
  ms: number;
}

/** The executor's context: how ops become steps, the store that carries out record ops, and an optional seam called after each setup op. */
export interface ExecContext extends StepContext {
  records: RecordStore;
  /** Called after each setup op succeeds, e.g. by the crash-recovery tests to kill the process there. */
  afterSetupOp?: (op: SetupOp) => void;
}

async function timed(op: Op, runner: Runner, ctx: ExecContext, log: OpTiming[]): Promise<void> {
  const started = performance.now();
  const secrets = secretsIn(op);
  if (isRecordOp(op)) await ctx.records.apply(op, runner, secrets);
  else for (const step of stepsOf(op, ctx)) await runner.perform(step, secrets);
  log.push({ op: describeOp(op), ms: Math.round((performance.now() - started) * 10) / 10 });
}

/** Ops that set only forwarding and the firewall, which no other op of a plan reads: they run beside the link work. */
const FIREWALL_LANE = new Set<SetupOp['kind']>(['enableIpForward', 'setGuestRules']);
const RECORD_OPS = new Set<SetupOp['kind']>(['writeRecord', 'updateRecords']);
/**
 * Of those, the ones that go after the link work instead. The kernel takes
 * ip_forward's write only while no one holds its lock of the network config
 * (rtnl), and has the writer retry until then: written while `ip` makes the
 * pair, it spun on a CPU the pair and the guest agent needed, for the pair's
 * whole making.
 */
const AFTER_LINKS = new Set<SetupOp['kind']>(['enableIpForward']);

/**
 * The order ops run in: the records first, so that whatever happens next
 * detach can find them; then, where the runner allows, the firewall's lane
 * beside the rest, each lane in plan order, and the ops of AFTER_LINKS once
 * the link work is done.
 */
function lanesOf(ops: SetupOp[], sideBySide: boolean): { first: SetupOp[]; lanes: SetupOp[][] } {
  const split = ops.findIndex((op) => !RECORD_OPS.has(op.kind));
  const [first, rest] = split < 0 ? [ops, []] : [ops.slice(0, split), ops.slice(split)];
  if (!sideBySide) return { first, lanes: [rest] };
  const links = rest.filter((op) => !FIREWALL_LANE.has(op.kind));
  const firewall = rest.filter((op) => FIREWALL_LANE.has(op.kind));
  return {
    first,
    lanes: [[...links, ...firewall.filter((op) => AFTER_LINKS.has(op.kind))], firewall.filter((op) => !AFTER_LINKS.has(op.kind))],
  };
}

/**
 * Runs setup ops in plan order, the firewall's lane beside the link work.
 * When one fails, no lane starts another op; its own partial effect and every
 * op done are undone, newest first, and the original error is rethrown: a
 * failed attach leaves nothing behind. The caller holds the state lock, so
 * the undo runs against the state the plan was made from.
 */
export async function applySetup(ops: SetupOp[], runner: Runner, ctx: ExecContext): Promise<OpTiming[]> {
  const log: OpTiming[] = [];
  const done: SetupOp[] = [];
  const failed: Array<{ op: SetupOp; error: unknown }> = [];
  const runLane = async (lane: SetupOp[]) => {
    for (const op of lane) {
      if (failed.length > 0) return;
      try {
        await timed(op, runner, ctx, log);
        done.push(op);
        ctx.afterSetupOp?.(op);
      } catch (error) {
        failed.push({ op, error });
      }
    }
  };
  const { first, lanes } = lanesOf(ops, runner.sideBySide === true);
  await runLane(first);
  if (failed.length === 0) await Promise.all(lanes.map(runLane));
  const [failure] = failed;
  if (!failure) return log;
  const failures = await applyCollecting([...done, ...failed.map((f) => f.op)].reverse().map(undoOf), runner, ctx);
  const { error } = failure;
  if (failures.length > 0 && error instanceof Error) {
    error.message += `; rolling back also failed: ${failures.map((f) => f.message).join('; ')}`;
  }
  throw error;
}

/**
 * Runs every op even when some fail. A record is forgotten only when all
 * that came before it went: after a failure it is marked as undoing instead,
 * so that what is left stays ours to find, for a later detach, attach or
 * reconcile to remove (service/recovery.ts).
 */
async function applyCollecting(ops: Op[], runner: Runner, ctx: ExecContext, log: OpTiming[] = []): Promise<Error[]> {
  const failures: Error[] = [];
  for (const planned of ops) {
    const op = failures.length > 0 && planned.kind === 'deleteRecord' ? markedUndoing(planned.id, ctx) : planned;
    if (op === undefined) continue;
    try {
      await timed(op, runner, ctx, log);
    } catch (error) {
      failures.push(error instanceof Error ? error : new Error(String(error)));
    }
  }
  return failures;
}

/** The op that marks record `id` as undoing, or none when it is gone or marked already. */
function markedUndoing(id: string, ctx: ExecContext): Op | undefined {
  const record = ctx.records.get(id);
  return record === undefined || record.undoing
    ? undefined
    : { kind: 'updateRecords', before: [record], after: [{ ...record, undoing: true }] };
}

/** Runs every teardown op even when some fail, then reports the first failure. */
export async function applyTeardown(ops: Op[], runner: Runner, ctx: ExecContext): Promise<OpTiming[]> {
  const log: OpTiming[] = [];
  const failures = await applyCollecting(ops, runner, ctx, log);
  const [first, ...rest] = failures;
  if (first) {
    if (rest.length > 0) first.message += ` (and ${rest.length} more failure${rest.length > 1 ? 's' : ''})`;
    throw first instanceof AgentError ? first : new AgentError('commandFailed', first.message, { cause: first });
  }
  return log;
}
