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

/**
 * Runs changes in one `ip -batch`, which stops at the first failing line.
 * Returns undefined on success, or the 0-based index of the failing line.
 */
export async function changeIp(lines: string[], force = false): Promise<{ failedLine: number; error: CommandFailedError } | undefined> {
  const result = await ipBatch(force ? ['-force'] : [], lines);
  if (result.exitCode === 0) return undefined;
  const line = /Command failed -:(\d+)/.exec(result.stderr)?.[1];
  return {
    failedLine: line === undefined ? 0 : Number(line) - 1,
    error: new CommandFailedError(result.argv, result.stderr, result.exitCode),
  };
}
