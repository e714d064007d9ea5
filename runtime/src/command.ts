import { type ChildProcess, spawn } from 'node:child_process';
import { CommandFailedError } from '@guestnet/protocol';

// Commands run from argument arrays through node:child_process, never a
// shell. Both agents spawn on every attach, and the guest agent has to fit
// in a few MB on a device: execa, the most expensive module either agent
// loaded, cost more memory than the whole guest agent may use, so this does
// the little of it the agents need: stdin in, stdout and stderr out (final
// newline stripped, as tools' output is matched line by line), the exit code.

// Stable, untranslated tool output: error matching depends on it.
const ENV = { ...process.env, LC_ALL: 'C' };
// What one command may print before it is killed: far above any `ip -j` or `nft -j` listing.
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/**
 * How long a command may run before it is killed, unless its caller says
 * otherwise. The agents' commands take milliseconds; a wedged netlink socket
 * or a firewall lock someone keeps (`iptables -w` waits for it without end)
 * would hold the state lock, and every later request behind it, for good.
 */
export const DEFAULT_COMMAND_DEADLINE_MS = 15_000;

export interface CommandResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

const stripFinalNewline = (text: string) => (text.endsWith('\n') ? text.slice(0, -1) : text);

/** A spawned command whose output is being collected; its stdin, when piped, is still open. */
interface Running {
  child: ChildProcess;
  result: Promise<CommandResult>;
  /** What it printed on stderr so far. */
  stderr(): string;
}

/**
 * Kills the command and everything it started: each command leads a process
 * group of its own, so a wrapper's child (a shell's `sleep`, `ip netns exec`'s
 * tool) goes too. Its pipes are closed, so that a descendant that escaped the
 * group cannot keep its result from settling.
 */
function killWhole(child: ChildProcess): void {
  // Its result has not settled, so the leader is not reaped yet or a member still holds its pipes: either way the
  // group's id is still taken, and names no one else's group.
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
  for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
}

/**
 * The commands running now. In a session of their own, nothing else ends
 * them: an agent that exits with one under way (a read in the background, a
 * command past its stop) kills it rather than leave it running, or hanging,
 * on its own.
 */
const underWay = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  if (underWay.size === 0) process.once('exit', killUnderWay);
  underWay.add(child);
  child.once('close', () => {
    underWay.delete(child);
    if (underWay.size === 0) process.removeListener('exit', killUnderWay);
  });
}

function killUnderWay(): void {
  for (const child of underWay) killWhole(child);
}

function spawnCollecting(argv: readonly string[], pipeStdin: boolean): Running {
  const [file, ...args] = argv;
  // detached: a session and process group of its own, which killWhole kills as one.
  const child = spawn(file as string, args, { env: ENV, stdio: [pipeStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true });
  track(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let bytes = 0;
  let failure: Error | undefined;
  const collect = (into: Buffer[]) => (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_OUTPUT_BYTES) {
      failure ??= new Error(`printed more than ${MAX_OUTPUT_BYTES} bytes`);
      killWhole(child);
    } else into.push(chunk);
  };
  child.stdout?.on('data', collect(out));
  child.stderr?.on('data', collect(err));
  child.on('error', (error) => (failure ??= error));
  // A command that exits without reading its input is not an error of ours.
  child.stdin?.on('error', () => {});
  const result = new Promise<CommandResult>((resolve, reject) => {
    child.on('close', (code) => {
      const stderr = stripFinalNewline(Buffer.concat(err).toString('utf8'));
      if (failure || code === null) {
        reject(new CommandFailedError(argv, stderr || (failure?.message ?? 'killed by a signal'), undefined, failure));
        return;
      }
      resolve({ exitCode: code, stdout: stripFinalNewline(Buffer.concat(out).toString('utf8')), stderr });
    });
  });
  const stderr = () => stripFinalNewline(Buffer.concat(err).toString('utf8'));
  return { child, result, stderr };
}

/**
 * Runs argv (never a shell string) with optional stdin. Resolves with the exit
 * code whatever it is; rejects only when the command could not run at all
 * (not found, killed, printing without bound, or still running at its
 * deadline: then it is killed, with whatever it started).
 */
export function runCommand(argv: readonly string[], input?: string, deadlineMs = DEFAULT_COMMAND_DEADLINE_MS): Promise<CommandResult> {
  const running = begin(argv, input !== undefined);
  running.child.stdin?.end(input);
  return withDeadline(running, argv, deadlineMs);
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
export async function runCommandInParts(
  argv: readonly string[],
  first: string,
  between: () => Promise<void>,
  rest: string,
  deadlineMs = DEFAULT_COMMAND_DEADLINE_MS,
): Promise<CommandResult> {
  const running = begin(argv, true);
  const { child } = running;
  const result = withDeadline(running, argv, deadlineMs);
  const printed = new Promise<boolean>((resolve) => {
    child.stdout?.once('data', () => resolve(true));
    result.then(
      () => resolve(false),
      () => resolve(false),
    );
  });
  child.stdin?.write(first);
  if (!(await printed)) {
    child.stdin?.end();
    return result;
  }
  try {
    await between();
  } catch (error) {
    child.stdin?.end();
    await result.catch(() => {});
    throw error;
  }
  child.stdin?.end(rest);
  return result;
}

/** A process of argv, taken warm where one is kept (and another made ready after it), else spawned. */
function begin(argv: readonly string[], withInput: boolean): Running {
  const kept = withInput && keptWarm.has(keyOf(argv));
  const running = (kept ? takeWarm(argv) : undefined) ?? spawnCollecting(argv, withInput);
  if (kept) {
    const rewarm = () => void setTimeout(() => warmUp(argv), REWARM_DELAY_MS).unref();
    void running.result.then(rewarm, rewarm);
  }
  return running;
}

/**
 * The command's result, or a CommandFailedError once `deadlineMs` has passed
 * (from when it was handed its input: a process spawned ahead waits on its own
 * time). The failure does not wait for the kill to take: a process stuck in
 * the kernel dies only when it leaves it, and the caller must go on meanwhile.
 */
function withDeadline(running: Running, argv: readonly string[], deadlineMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killWhole(running.child);
      const said = running.stderr().trim().split('\n')[0];
      reject(
        new CommandFailedError(argv, `timed out after ${deadlineMs} ms and was killed${said ? ` (it said: ${said})` : ''}`, undefined),
      );
    }, deadlineMs);
    running.result.then(
      (result) => {
        clearTimeout(timer);
        resolve(result);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

// Node's spawn forks the whole agent and blocks its loop until the child has
// exec'd: milliseconds, on the attach path, for every command. A command that
// does nothing before it has read its input (`ip -batch -`) can be spawned
// ahead, while the agent idles, and handed its input when it is needed: the
// same process and the same work, started earlier. The agents that live long
// (the daemon, the guest agent) keep one of their attach's commands ready.
const warm = new Map<string, Running>();
const keptWarm = new Set<string>();
/** How long after a kept command has exited the next one is spawned: after the work it ran for, not within it. */
const REWARM_DELAY_MS = 50;

const keyOf = (argv: readonly string[]) => argv.join('\0');

/** Keeps one process of `argv` spawned and waiting on its stdin, for the next runCommand of `argv` with input. */
export function keepWarm(argv: readonly string[]): void {
  keptWarm.add(keyOf(argv));
  warmUp(argv);
}

/** The process waiting for the next runCommand of `argv`, if one is; for tests. */
export function warmPid(argv: readonly string[]): number | undefined {
  return warm.get(keyOf(argv))?.child.pid;
}

function warmUp(argv: readonly string[]): void {
  const key = keyOf(argv);
  if (!keptWarm.has(key) || warm.has(key)) return;
  const running = spawnCollecting(argv, true);
  warm.set(key, running);
  // Waiting, it neither holds the agent open nor outlives it (see track). One that dies is not used, and the
  // next run of its argv spawns as it would have, then keeps another ready.
  setHeld(running.child, false);
  void running.result
    .catch(() => {})
    .finally(() => {
      if (warm.get(key) === running) warm.delete(key);
    });
}

function takeWarm(argv: readonly string[]): Running | undefined {
  const key = keyOf(argv);
  const running = warm.get(key);
  if (!running) return undefined;
  warm.delete(key);
  if (running.child.exitCode !== null || running.child.signalCode !== null) return undefined;
  setHeld(running.child, true);
  return running;
}

/** Whether the child and its pipes keep the event loop alive. */
function setHeld(child: ChildProcess, held: boolean): void {
  for (const handle of [child, child.stdin, child.stdout, child.stderr] as Array<{ ref?: () => void; unref?: () => void } | null>) {
    if (held) handle?.ref?.();
    else handle?.unref?.();
  }
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
