import { AgentError } from '@guestnet/protocol';
import { describeOp, type Op, type SetupOp, undoOf } from '../plan/ops.js';
import type { Runner } from './runner.js';
import { type StepContext, stepsOf } from './steps.js';

/** What an applied op reports: what it meant, and how long it took. */
export interface OpTiming {
  op: string;
  ms: number;
}

/** The executor's context: how ops become steps, and an optional seam called after each setup op. */
export interface ExecContext extends StepContext {
  /** Called after each setup op succeeds, e.g. by the crash-recovery tests to kill the process there. */
  afterSetupOp?: (op: SetupOp) => void;
}

async function timed(op: Op, runner: Runner, ctx: StepContext, log: OpTiming[]): Promise<void> {
  const started = performance.now();
  for (const step of stepsOf(op, ctx)) await runner.perform(step);
  log.push({ op: describeOp(op), ms: Math.round((performance.now() - started) * 10) / 10 });
}

/**
 * Runs setup ops in order. When one fails, its own partial effect and every
 * op before it are undone, newest first, and the original error is rethrown:
 * a failed attach leaves nothing behind. The caller holds the state lock, so
 * the undo runs against the state the plan was made from.
 */
export async function applySetup(ops: SetupOp[], runner: Runner, ctx: ExecContext): Promise<OpTiming[]> {
  const log: OpTiming[] = [];
  const done: SetupOp[] = [];
  for (const op of ops) {
    try {
      await timed(op, runner, ctx, log);
      done.push(op);
      ctx.afterSetupOp?.(op);
    } catch (error) {
      const failures = await applyCollecting([...done, op].reverse().map(undoOf), runner, ctx);
      if (failures.length > 0 && error instanceof Error) {
        error.message += `; rolling back also failed: ${failures.map((f) => f.message).join('; ')}`;
      }
      throw error;
    }
  }
  return log;
}

async function applyCollecting(ops: Op[], runner: Runner, ctx: StepContext, log: OpTiming[] = []): Promise<Error[]> {
  const failures: Error[] = [];
  for (const op of ops) {
    try {
      await timed(op, runner, ctx, log);
    } catch (error) {
      failures.push(error instanceof Error ? error : new Error(String(error)));
    }
  }
  return failures;
}

/** Runs every teardown op even when some fail, then reports the first failure. */
export async function applyTeardown(ops: Op[], runner: Runner, ctx: StepContext): Promise<OpTiming[]> {
  const log: OpTiming[] = [];
  const failures = await applyCollecting(ops, runner, ctx, log);
  const [first, ...rest] = failures;
  if (first) {
    if (rest.length > 0) first.message += ` (and ${rest.length} more failure${rest.length > 1 ? 's' : ''})`;
    throw first instanceof AgentError ? first : new AgentError('commandFailed', first.message, { cause: first });
  }
  return log;
}
