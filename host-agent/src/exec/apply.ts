import { AgentError } from '@guestnet/protocol';
import { describeOp, isSetup, type Op, type OpContext, type SetupOp, stepsOf, undoOf } from '../ops.js';
import type { Runner } from './runner.js';

export interface AppliedOp {
  op: string;
  ms: number;
}

async function runOp(op: Op, runner: Runner, ctx: OpContext): Promise<void> {
  for (const step of stepsOf(op, ctx)) await runner.perform(step);
}

async function timed(op: Op, runner: Runner, ctx: OpContext, log: AppliedOp[]): Promise<void> {
  const started = performance.now();
  await runOp(op, runner, ctx);
  log.push({ op: describeOp(op), ms: Math.round((performance.now() - started) * 10) / 10 });
}

// Test-only fault injection: SIGKILL this process right after its Nth setup op,
// to prove crash recovery at every step (test/integration/host-agent/recovery).
const KILL_AFTER_OP = Number(process.env.GUESTNET_KILL_AFTER_OP ?? 0);
let setupOpsApplied = 0;

/**
 * Runs setup ops in order. When one fails, its own partial effect and every
 * op before it are undone, newest first, and the original error is rethrown:
 * a failed attach leaves nothing behind.
 */
export async function applySetup(ops: SetupOp[], runner: Runner, ctx: OpContext): Promise<AppliedOp[]> {
  const log: AppliedOp[] = [];
  const done: SetupOp[] = [];
  for (const op of ops) {
    try {
      await timed(op, runner, ctx, log);
      done.push(op);
      if (++setupOpsApplied === KILL_AFTER_OP) process.kill(process.pid, 'SIGKILL');
    } catch (error) {
      await rollBack([...done, op], runner, ctx, error);
      throw error;
    }
  }
  return log;
}

export async function rollBack(ops: SetupOp[], runner: Runner, ctx: OpContext, cause: unknown): Promise<void> {
  const failures = await applyCollecting([...ops].reverse().map(undoOf), runner, ctx);
  if (failures.length > 0 && cause instanceof Error) {
    cause.message += `; rolling back also failed: ${failures.map((f) => f.message).join('; ')}`;
  }
}

async function applyCollecting(ops: Op[], runner: Runner, ctx: OpContext, log: AppliedOp[] = []): Promise<Error[]> {
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
export async function applyTeardown(ops: Op[], runner: Runner, ctx: OpContext): Promise<AppliedOp[]> {
  if (ops.some(isSetup)) throw new Error('teardown plans contain only teardown ops');
  const log: AppliedOp[] = [];
  const failures = await applyCollecting(ops, runner, ctx, log);
  const [first, ...rest] = failures;
  if (first) {
    if (rest.length > 0) first.message += ` (and ${rest.length} more failure${rest.length > 1 ? 's' : ''})`;
    throw first instanceof AgentError ? first : new AgentError('commandFailed', first.message, { cause: first });
  }
  return log;
}
