import { promises as fs } from 'node:fs';
import { writeAtomically } from '@guestnet/runtime';
import { changeIp, type Family, type IpChange, type IpTarget } from './ip.js';
import { IP6_STATE_COMMANDS, IP_STATE_COMMANDS, type IpState, parseIpState, withIp6State } from './observe.js';
import { familyOf, type GuestOp, inverseOf, ipLinesOf } from './ops.js';

async function runFileOp(op: GuestOp): Promise<void> {
  if (op.kind === 'writeDnsFile') await writeAtomically(op.path, op.content, { mode: 0o644, durable: op.synced });
  if (op.kind === 'removeFile') await fs.rm(op.path, { force: true });
}

/** Best effort, newest first; `-force` keeps going past lines that fail. */
async function undo(ops: GuestOp[], target: IpTarget): Promise<void> {
  const inverses = ops
    .reverse()
    .map(inverseOf)
    .filter((op): op is GuestOp => op !== undefined);
  for (const op of inverses) await runFileOp(op).catch(() => {});
  for (const family of [6, 4] as const) {
    const lines = inverses.filter((op) => familyOf(op) === family).flatMap(ipLinesOf);
    if (lines.length > 0) await changeIp(lines, { force: true, target, family });
  }
}

/** One family's changes in one `ip -batch`, which then reads back that family's state. */
async function changeFamily(ops: GuestOp[], family: Family, target: IpTarget): Promise<{ change: IpChange; owners: GuestOp[] }> {
  const lines: string[] = [];
  const owners: GuestOp[] = [];
  for (const op of ops.filter((op) => familyOf(op) === family)) {
    for (const line of ipLinesOf(op)) {
      lines.push(line);
      owners.push(op);
    }
  }
  const change = await changeIp(lines, { thenRead: family === 6 ? IP6_STATE_COMMANDS : IP_STATE_COMMANDS, target, family });
  return { change, owners };
}

/**
 * All link, address and route changes go through one `ip -batch` process,
 * which then reads back the state they left; with `ipv6`, IPv6's go through
 * a second. The DNS file is written while the first runs: it waits on
 * nothing of theirs, and the agent would otherwise only wait for `ip`. On
 * failure everything done is undone. Resolves to that state.
 */
export async function applyGuest(ops: GuestOp[], target: IpTarget = {}, ipv6 = false): Promise<IpState> {
  const ipOps = ops.filter((op) => ipLinesOf(op).length > 0);
  const fileOps = ops.filter((op) => ipLinesOf(op).length === 0);
  // Handed to its process before the first file op starts: changeFamily runs up to that point at once.
  const first = changeFamily(ipOps, 4, target);
  const filesDone: GuestOp[] = [];
  let fileFailure: { error: unknown } | undefined;
  for (const op of fileOps) {
    try {
      await runFileOp(op);
      filesDone.push(op);
    } catch (error) {
      fileFailure = { error };
      break;
    }
  }
  // A batch stops at its first failing line: undo what was done before, and this one up to that line.
  const outputOf = async ({ change, owners }: Awaited<ReturnType<typeof changeFamily>>, done: GuestOp[]): Promise<string> => {
    if (change.ok && !fileFailure) return change.output;
    const reached = change.ok ? owners : owners.slice(0, change.failedLine + 1);
    await undo([...new Set([...done, ...reached])], target);
    throw change.ok ? fileFailure?.error : change.error;
  };
  const firstDone = await first;
  let state = parseIpState(await outputOf(firstDone, filesDone));
  if (ipv6) {
    const second = await changeFamily(ipOps, 6, target);
    state = withIp6State(state, await outputOf(second, [...filesDone, ...firstDone.owners]));
  }
  return state;
}
