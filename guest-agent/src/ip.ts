import { readFileSync } from 'node:fs';
import { CommandFailedError } from '@guestnet/protocol';
import { runCommand, SpareProcess } from '@guestnet/runtime';

/** Where `ip` runs: this agent's own netns, or (for the CNI plugin on the host) a container's, entered by path. */
export interface IpTarget {
  netnsPath?: string;
  /** This netns's `ip -4 -j -batch` spawned ahead (spareLooks4): the IPv4 looks, and changes a look follows, run in it. */
  looks4?: SpareProcess;
}

/** The flags of an IPv4 look, in one process with the changes it follows or alone. */
const LOOK4 = ['-4', '-j'];

const ipArgv = (target: IpTarget, flags: string[]) => [
  ...(target.netnsPath ? ['nsenter', `--net=${target.netnsPath}`] : []),
  'ip',
  ...flags,
  '-batch',
  '-',
];

/** A process for the IPv4 looks of `target`'s netns, to spawn ahead: an agent that keeps its guest keeps one. */
export function spareLooks4(target: { netnsPath?: string } = {}): SpareProcess {
  return new SpareProcess(ipArgv(target, LOOK4));
}

async function ipBatch(target: IpTarget, flags: string[], lines: string[]) {
  const argv = ipArgv(target, flags);
  return { argv, ...(await runCommand(argv, `${lines.join('\n')}\n`)) };
}

/** An IPv4 look, alone or after changes: in the target's spare where it has one. */
async function look4(target: IpTarget, lines: string[]) {
  const spare = target.looks4;
  if (!spare) return ipBatch(target, LOOK4, lines);
  return { argv: [...spare.argv], ...(await spare.run(`${lines.join('\n')}\n`)) };
}

export type Family = 4 | 6;

/** Runs read-only `ip -4 -j` (or `-6`) commands in one process; one JSON document per line. */
export async function readIp(commands: string[], target: IpTarget = {}, family: Family = 4): Promise<string> {
  const result = await (family === 4 ? look4(target, commands) : ipBatch(target, ['-6', '-j'], commands));
  if (result.exitCode !== 0) throw new CommandFailedError(result.argv, result.stderr, result.exitCode);
  return result.stdout;
}

export type IpChange = { ok: true; output: string } | { ok: false; failedLine: number; error: CommandFailedError };

/**
 * Runs changes in one `ip -batch`, which stops at the first failing line, and
 * then the read-only `thenRead` commands in the same process: what the
 * changes left behind costs no second process. On failure, `failedLine` is
 * the 0-based index of the failing line.
 */
export async function changeIp(
  lines: string[],
  options: { force?: boolean; thenRead?: string[]; target?: IpTarget; family?: Family } = {},
): Promise<IpChange> {
  const reads = options.thenRead ?? [];
  const target = options.target ?? {};
  const family = options.family === 6 ? ['-6'] : reads.length > 0 ? ['-4'] : [];
  const flags = [...family, ...(reads.length > 0 ? ['-j'] : []), ...(options.force ? ['-force'] : [])];
  const looked = reads.length > 0 && options.family !== 6 && !options.force;
  const result = await (looked ? look4(target, [...lines, ...reads]) : ipBatch(target, flags, [...lines, ...reads]));
  if (result.exitCode === 0) return { ok: true, output: result.stdout };
  const line = /Command failed -:(\d+)/.exec(result.stderr)?.[1];
  return {
    ok: false,
    failedLine: line === undefined ? 0 : Number(line) - 1,
    error: new CommandFailedError(result.argv, result.stderr, result.exitCode),
  };
}

/** Whether this netns can take an IPv6 address: a kernel booted with ipv6.disable=1 has no such sysctl. */
export function ipv6Enabled(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim() === '0';
  } catch {
    return false;
  }
}
