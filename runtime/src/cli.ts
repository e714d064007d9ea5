import { fstatSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { describeError, ExitCode, UsageError } from '@guestnet/protocol';

/**
 * `status | head` in adb shell closes the pipe early: that is the reader's
 * choice, not an error, so the process ends quietly with its exit code.
 */
function readerGone(): never {
  readerLeft = true;
  process.exit(process.exitCode ?? ExitCode.ok);
}

/** The release both agents belong to; a unit test holds it equal to every package.json. */
export const GUESTNET_VERSION = '0.1.0';

let readerLeft = false;
let guarded = false;

/** For a process that writes to process.stdout itself (the daemon's log lines). */
export function installPipeGuard(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') readerGone();
    throw error;
  });
}

let viaStream = false;

/**
 * Writes to fd 1 directly. Opening process.stdout on a pipe costs a command
 * a good part of its start-up (net, streams), and its output is short. A
 * stdout that would block (a non-blocking pipe a parent shares) takes the
 * rest, and everything after, through the stream, which queues it.
 */
export function writeOut(text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  if (!viaStream) {
    try {
      while (done < bytes.length) done += writeSync(1, bytes, done);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') readerGone();
      if (code !== 'EAGAIN') throw error;
      viaStream = true;
    }
  }
  installPipeGuard();
  process.stdout.write(bytes.subarray(done));
}

export const print = (line: string): void => writeOut(`${line}\n`);

/** A terminal is a character device: only then is `tty` (which loads net) asked. */
const onTerminal = () => fstatSync(1).isCharacterDevice() && isatty(1);

/** What is read through a pipe (adb shell, a log, `| less`) stays within the classic terminal. */
export const PIPE_WIDTH = 80;

/**
 * How wide output on stdout may be: COLUMNS when set (a shell exports it, a
 * user may say COLUMNS=80), else the terminal's own width (`stty cols`);
 * through a pipe never more than PIPE_WIDTH.
 */
export function outputWidth(env: NodeJS.ProcessEnv = process.env, terminal = onTerminal()): number {
  const columns = /^\d+$/.test(env.COLUMNS ?? '') ? Number(env.COLUMNS) : undefined;
  const usable = (width: number | undefined) => (width !== undefined && width >= 20 ? width : undefined);
  if (terminal) return usable(columns) ?? usable(process.stdout.columns) ?? PIPE_WIDTH;
  return Math.min(usable(columns) ?? PIPE_WIDTH, PIPE_WIDTH);
}

/**
 * commander's output settings that leave process.stdout closed unless it is a
 * terminal. Help always goes to stdout, also the help a bare command prints
 * (commander calls that one an error and writes it with writeErr; every other
 * error it writes with outputError, which the CLIs silence).
 */
export const STDOUT_FOR_COMMANDER = {
  writeOut,
  writeErr: writeOut,
  getOutHelpWidth: () => outputWidth(),
  getErrHelpWidth: () => outputWidth(),
  getOutHasColors: () => onTerminal() && process.stdout.hasColors(),
  getErrHasColors: () => onTerminal() && process.stdout.hasColors(),
};

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
  return () => {
    settled = true;
  };
}

/**
 * The examples below a command's help (`<agent> help <command>`): each under
 * a comment that says what it does, so it can be copied as it is.
 */
export function examplesHelp(examples: Array<[example: string, what: string]>): string {
  const lines = examples.flatMap(([example, what]) => [...(what ? [`  # ${what}`] : []), `  ${example}`]);
  return `\nExamples:\n${lines.join('\n')}`;
}

/** What commander throws; matched by shape so this package needs no commander. */
interface CommanderFailure {
  code: string;
  exitCode: number;
  message: string;
}

const isCommanderFailure = (error: unknown): error is CommanderFailure =>
  error instanceof Error &&
  typeof (error as unknown as Partial<CommanderFailure>).code === 'string' &&
  (error as unknown as CommanderFailure).code.startsWith('commander.');

/**
 * commander's message as one line: its suggestion comes on a line of its own,
 * in parentheses ("unknown command 'attac'" and "(Did you mean attach?)"),
 * and reads "unknown command 'attac'; did you mean attach?" here.
 */
function commanderMessage(message: string): string {
  const [first = '', ...more] = message
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const rest = more.map((line) => line.replace(/^\((.*)\)$/, '$1')).map((line) => line.charAt(0).toLowerCase() + line.slice(1));
  return [first, ...rest].join('; ');
}

/** One line whatever the message holds: a log or a launcher reads errors line by line. */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

/**
 * The one place a CLI turns an error into its exit code: one line on stderr,
 * or one JSON object on stdout with --json; the stack only with --verbose.
 * The help a bare command prints is no failure.
 */
export function reportCliFailure(
  agent: string,
  error: unknown,
  options: { json?: boolean | undefined; verbose?: boolean | undefined },
): number {
  if (isCommanderFailure(error)) {
    if (error.exitCode === 0 || error.code === 'commander.help') return ExitCode.ok;
    error = new UsageError(`${commanderMessage(error.message)} (see ${agent} --help)`);
  }
  const described = describeError(error);
  described.message = oneLine(described.message);
  if (options.json) writeOut(`${JSON.stringify({ error: described })}\n`);
  else process.stderr.write(`${agent}: ${described.message}\n`);
  if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return described.exitCode;
}
