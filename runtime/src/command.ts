import { CommandFailedError } from '@guestnet/protocol';

// Stable, untranslated tool output: error matching depends on it.
const ENV = { LC_ALL: 'C' };

export interface CommandResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

// execa is the largest module either agent loads: import it at the first
// command, never on start-up, so --help and a mistyped flag stay cheap.
const loadExeca = () => import('execa');

/**
 * Runs argv (never a shell string) with optional stdin. Resolves with the exit
 * code whatever it is; rejects only when the command could not run at all.
 */
export async function runCommand(argv: readonly string[], input?: string): Promise<CommandResult> {
  const { execa } = await loadExeca();
  const [file, ...args] = argv;
  const result = await execa(file as string, args, { ...(input === undefined ? {} : { input }), env: ENV, reject: false });
  if (result.failed && result.exitCode === undefined) {
    throw new CommandFailedError(argv, result.stderr || (result.shortMessage ?? ''), undefined, result);
  }
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

export interface StartedCommand {
  /** Lines of stdout as they come. */
  readonly stdout: NodeJS.ReadableStream;
  /** Settles when the process has exited, however it exited. */
  readonly exited: Promise<unknown>;
  kill(): void;
}

/** Starts a long-running command whose stdout is read as a stream. */
export async function startCommand(argv: readonly string[]): Promise<StartedCommand> {
  const { execa } = await loadExeca();
  const [file, ...args] = argv;
  const child = execa(file as string, args, { buffer: false, reject: false, env: ENV });
  return { stdout: child.stdout, exited: child.then(() => undefined, () => undefined), kill: () => void child.kill() };
}
