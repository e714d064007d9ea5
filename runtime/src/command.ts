import { spawn } from 'node:child_process';
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

export interface CommandResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

const stripFinalNewline = (text: string) => (text.endsWith('\n') ? text.slice(0, -1) : text);

/**
 * Runs argv (never a shell string) with optional stdin. Resolves with the exit
 * code whatever it is; rejects only when the command could not run at all
 * (not found, killed, or printing without bound).
 */
export function runCommand(argv: readonly string[], input?: string): Promise<CommandResult> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file as string, args, { env: ENV, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let failure: Error | undefined;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_OUTPUT_BYTES) {
        failure ??= new Error(`printed more than ${MAX_OUTPUT_BYTES} bytes`);
        child.kill('SIGKILL');
      } else into.push(chunk);
    };
    child.stdout?.on('data', collect(out));
    child.stderr?.on('data', collect(err));
    child.on('error', (error) => (failure ??= error));
    if (child.stdin) {
      // A command that exits without reading its input is not an error of ours.
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
    child.on('close', (code) => {
      const stderr = stripFinalNewline(Buffer.concat(err).toString('utf8'));
      if (failure || code === null) {
        reject(new CommandFailedError(argv, stderr || (failure?.message ?? 'killed by a signal'), undefined, failure));
        return;
      }
      resolve({ exitCode: code, stdout: stripFinalNewline(Buffer.concat(out).toString('utf8')), stderr });
    });
  });
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
    const done = () => (process.removeListener('exit', kill), resolve());
    child.on('error', done);
    child.on('close', done);
  });
  return { stdout: child.stdout as NodeJS.ReadableStream, exited, kill };
}
