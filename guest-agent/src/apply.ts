import { promises as fs } from 'node:fs';
import { writeAtomically } from '@guestnet/runtime';
import { changeIp, type IpTarget } from './ip.js';
import { IP_STATE_COMMANDS, type IpState, parseIpState } from './observe.js';
import { type GuestOp, inverseOf, ipLinesOf } from './ops.js';

async function runFileOp(op: GuestOp): Promise<void> {
  if (op.kind === 'writeDnsFile') await writeAtomically(op.path, op.content, { mode: 0o644 });
  if (op.kind === 'removeFile') await fs.rm(op.path, { force: true });
}

/** Best effort, newest first; `-force` keeps going past lines that fail. */
async function undo(ops: GuestOp[], target: IpTarget): Promise<void> {
  const inverses = ops
    .reverse()
    .map(inverseOf)
    .filter((op): op is GuestOp => op !== undefined);
  for (const op of inverses) await runFileOp(op).catch(() => {});
  const lines = inverses.flatMap(ipLinesOf);
  if (lines.length > 0) await changeIp(lines, { force: true, target });
}

/**
 * All link, address and route changes go through one `ip -batch` process,
 * which then reads back the state they left; the DNS file write follows.
 * On failure everything done is undone. Resolves to that state.
 */
export async function applyGuest(ops: GuestOp[], target: IpTarget = {}): Promise<IpState> {
  const lines: string[] = [];
  const lineOwner: number[] = [];
  ops.forEach((op, index) => {
    for (const line of ipLinesOf(op)) {
      lines.push(line);
      lineOwner.push(index);
    }
  });
  const ipOps = ops.filter((op) => ipLinesOf(op).length > 0);
  const change = await changeIp(lines, { thenRead: IP_STATE_COMMANDS, target });
  if (!change.ok) {
    const failedOp = lineOwner[change.failedLine] ?? ops.length - 1;
    await undo(ops.slice(0, failedOp + 1).filter((op) => ipLinesOf(op).length > 0), target);
    throw change.error;
  }
  const fileOps = ops.filter((op) => ipLinesOf(op).length === 0);
  for (const [index, op] of fileOps.entries()) {
    try {
      await runFileOp(op);
    } catch (error) {
      await undo([...ipOps, ...fileOps.slice(0, index)], target);
      throw error;
    }
  }
  return parseIpState(change.output);
}
