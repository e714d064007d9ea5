import { describeError, ExitCode, UsageError } from '@guestnet/protocol';

export const print = (line: string): void => void process.stdout.write(`${line}\n`);

/**
 * `status | head` in adb shell closes the pipe early: that is the reader's
 * choice, not an error, so the process ends quietly with its exit code.
 */
export function installPipeGuard(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') {
      readerLeft = true;
      process.exit(process.exitCode ?? ExitCode.ok);
    }
    throw error;
  });
}

let readerLeft = false;

/**
 * Node exits 0 when nothing is left to wait on, even with the command's
 * promise unsettled. Such a bug must not read as success to a launcher:
 * call the returned function when the command has settled.
 */
export function installExitGuard(agent: string): () => void {
  let settled = false;
  process.on('exit', (code) => {
    if (settled || readerLeft || code !== ExitCode.ok) return;
    process.stderr.write(`${agent}: internal error: stopped before the command finished\n`);
    process.exitCode = ExitCode.internal;
  });
  return () => void (settled = true);
}

/** What commander throws; matched by shape so this package needs no commander. */
interface CommanderFailure {
  code: string;
  exitCode: number;
  message: string;
}

const isCommanderFailure = (error: unknown): error is CommanderFailure =>
  error instanceof Error && typeof (error as unknown as Partial<CommanderFailure>).code === 'string' && (error as unknown as CommanderFailure).code.startsWith('commander.');

/**
 * The one place a CLI turns an error into its exit code: one line on stderr,
 * or one JSON object on stdout with --json; the stack only with --verbose.
 */
export function reportCliFailure(agent: string, error: unknown, options: { json?: boolean | undefined; verbose?: boolean | undefined }): number {
  if (isCommanderFailure(error)) {
    if (error.exitCode === 0) return ExitCode.ok;
    error = new UsageError(`${error.message.replace(/^error: /, '')} (see ${agent} --help)`);
  }
  const described = describeError(error);
  if (options.json) process.stdout.write(`${JSON.stringify({ error: described })}\n`);
  else process.stderr.write(`${agent}: ${described.message}\n`);
  if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return described.exitCode;
}
