import { CommandFailedError } from '@guestnet/protocol';

// Stable, untranslated tool output: error parsing depends on it.
const ENV = { LC_ALL: 'C' };

async function ipBatch(flags: string[], lines: string[]) {
  // execa costs ~70 ms to import: load it at the first command, not at start-up.
  const { execa } = await import('execa');
  const argv = ['ip', ...flags, '-batch', '-'];
  const result = await execa('ip', argv.slice(1), { input: `${lines.join('\n')}\n`, env: ENV, reject: false });
  return { argv, ...result };
}

/** Runs read-only `ip -4 -j` commands in one process; one JSON document per line. */
export async function readIp(commands: string[]): Promise<string> {
  const result = await ipBatch(['-4', '-j'], commands);
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
export async function changeIp(lines: string[], options: { force?: boolean; thenRead?: string[] } = {}): Promise<IpChange> {
  const reads = options.thenRead ?? [];
  const flags = [...(reads.length > 0 ? ['-4', '-j'] : []), ...(options.force ? ['-force'] : [])];
  const result = await ipBatch(flags, [...lines, ...reads]);
  if (result.exitCode === 0) return { ok: true, output: result.stdout };
  const line = /Command failed -:(\d+)/.exec(result.stderr)?.[1];
  return {
    ok: false,
    failedLine: line === undefined ? 0 : Number(line) - 1,
    error: new CommandFailedError(result.argv, result.stderr, result.exitCode),
  };
}
