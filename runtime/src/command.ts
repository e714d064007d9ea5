import { spawn } from 'node:child_process';
import { DEFAULT_COMMAND_DEADLINE_MS } from './deadline.js';
import { type CommandResult, ENV, runInParts, runWith, spawnCollecting } from './running.js';

export type { CommandResult } from './running.js';

// Commands run from argument arrays through node:child_process, never a
// shell. Both agents spawn on every attach, and the guest agent has to fit
// in a few MB on a device: execa, the most expensive module either agent
// loaded, cost more memory than the whole guest agent may use, so this does
// the little of it the agents need: stdin in, stdout and stderr out (final
// newline stripped, as tools' output is matched line by line), the exit code.

export { DEFAULT_COMMAND_DEADLINE_MS };

/**
 * Runs argv (never a shell string) with optional stdin, in a process spawned
 * now. Resolves with the exit code whatever it is; rejects only when the
 * command could not run at all (not found, killed, printing without bound,
 * or still running at its deadline: then it is killed, with whatever it
 * started). A command that has a SpareProcess runs through it instead.
 */
export function runCommand(argv: readonly string[], input?: string, deadlineMs = DEFAULT_COMMAND_DEADLINE_MS): Promise<CommandResult> {
  return runWith(spawnCollecting(argv, input !== undefined), argv, input, deadlineMs);
}

/**
 * Runs argv with its input in two parts and work between them: `first` is
 * written, and once the command has printed (the last command of `first`
 * prints when the part is done) `between` runs, then `rest` is written.
 * The same one process as runCommand's, for work that must happen while a
 * command is halfway. A command that exits (or passes its deadline) before
 * printing gets no rest, and `between` does not run; when `between` fails,
 * the command gets no rest and the failure is thrown once it has exited.
 */
export function runCommandInParts(
  argv: readonly string[],
  first: string,
  between: () => Promise<void>,
  rest: string,
  deadlineMs = DEFAULT_COMMAND_DEADLINE_MS,
): Promise<CommandResult> {
  return runInParts(spawnCollecting(argv, true), argv, first, between, rest, deadlineMs);
}

export interface StartedCommand {
  /** Lines of stdout as they come. */
  readonly stdout: NodeJS.ReadableStream;
  /** Settles when the process has exited, however it exited. */
  readonly exited: Promise<unknown>;
  kill(): void;
}

/**
 * Starts a long-running command whose stdout is read as a stream; its stderr
 * is dropped. It does not outlive the agent: a monitor or DHCP client left
 * behind would run on with no one reading it.
 */
export async function startCommand(argv: readonly string[]): Promise<StartedCommand> {
  const [file, ...args] = argv;
  const child = spawn(file as string, args, { env: ENV, stdio: ['ignore', 'pipe', 'ignore'] });
  const kill = () => void child.kill();
  process.once('exit', kill);
  const exited = new Promise<void>((resolve) => {
    const done = () => {
      process.removeListener('exit', kill);
      resolve();
    };
    child.on('error', done);
    child.on('close', done);
  });
  return { stdout: child.stdout as NodeJS.ReadableStream, exited, kill };
}
