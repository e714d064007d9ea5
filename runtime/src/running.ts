import { type ChildProcess, spawn } from 'node:child_process';
import { CommandFailedError } from '@guestnet/protocol';

// The processes behind runCommand and a SpareProcess (spare.ts): spawned
// in a process group of their own, their output collected and bounded, killed
// whole at their deadline or when the agent exits. Internal to runtime.

// Stable, untranslated tool output: error matching depends on it.
export const ENV = { ...process.env, LC_ALL: 'C' };
// What one command may print before it is killed: far above any `ip -j` or `nft -j` listing.
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface CommandResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

const stripFinalNewline = (text: string) => (text.endsWith('\n') ? text.slice(0, -1) : text);

/** A spawned command whose output is being collected; its stdin, when piped, is still open. */
export interface Running {
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
export function killWhole(child: ChildProcess): void {
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

export function spawnCollecting(argv: readonly string[], pipeStdin: boolean): Running {
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
 * The command's result, or a CommandFailedError once `deadlineMs` has passed
 * (from when it was handed its input: a process spawned ahead waits on its own
 * time). The failure does not wait for the kill to take: a process stuck in
 * the kernel dies only when it leaves it, and the caller must go on meanwhile.
 */
export function withDeadline(running: Running, argv: readonly string[], deadlineMs: number): Promise<CommandResult> {
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

/** Whether the child and its pipes keep the event loop alive. */
export function setHeld(child: ChildProcess, held: boolean): void {
  for (const handle of [child, child.stdin, child.stdout, child.stderr] as Array<{ ref?: () => void; unref?: () => void } | null>) {
    if (held) handle?.ref?.();
    else handle?.unref?.();
  }
}

/** Hands a spawned process its input (none: its stdin was not piped) and settles with its result by its deadline. */
export function runWith(running: Running, argv: readonly string[], input: string | undefined, deadlineMs: number): Promise<CommandResult> {
  running.child.stdin?.end(input);
  return withDeadline(running, argv, deadlineMs);
}

/** Feeds a spawned process, its stdin piped, its input in two parts: what runCommandInParts (command.ts) describes. */
export async function runInParts(
  running: Running,
  argv: readonly string[],
  first: string,
  between: () => Promise<void>,
  rest: string,
  deadlineMs: number,
): Promise<CommandResult> {
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
