import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { CommandFailedError } from '@guestnet/protocol';

/** One side effect: a process (argv plus optional stdin), a state file write/removal, or a sysctl. */
export type Step =
  | { kind: 'run'; argv: string[]; input?: string; tolerate?: RegExp }
  | { kind: 'write'; path: string; content: string }
  | { kind: 'remove'; path: string }
  | { kind: 'sysctl'; path: string; value: string };

export interface Runner {
  /** Reads never change anything, so every runner performs them for real. */
  read(argv: string[]): Promise<string>;
  perform(step: Step): Promise<void>;
}

// Stable, untranslated tool output: our error matching depends on it.
const ENV = { LC_ALL: 'C' };

async function execute(argv: string[], input?: string): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  // execa costs ~70 ms to import: load it at the first command, not at start-up.
  const { execa } = await import('execa');
  const [file, ...args] = argv;
  const result = await execa(file as string, args, { ...(input === undefined ? {} : { input }), env: ENV, reject: false });
  if (result.failed && result.exitCode === undefined) {
    throw new CommandFailedError(argv, result.stderr || (result.shortMessage ?? ''), undefined, result);
  }
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

export class RealRunner implements Runner {
  async read(argv: string[]): Promise<string> {
    const result = await execute(argv);
    if (result.exitCode !== 0) throw new CommandFailedError(argv, result.stderr, result.exitCode);
    return result.stdout;
  }

  async perform(step: Step): Promise<void> {
    if (step.kind === 'write') return writeAtomically(step.path, step.content);
    if (step.kind === 'remove') return fs.rm(step.path, { force: true });
    // /proc/sys files take one in-place write; there is nothing to rename over them.
    if (step.kind === 'sysctl') return fs.writeFile(step.path, `${step.value}\n`);
    const result = await execute(step.argv, step.input);
    if (result.exitCode === 0) return;
    if (step.tolerate?.test(result.stderr)) return;
    throw new CommandFailedError(step.argv, result.stderr, result.exitCode);
  }
}

/** Prints what would run, exactly, in a form that can be pasted into a root shell. */
export class DryRunRunner extends RealRunner {
  constructor(private readonly print: (line: string) => void) {
    super();
  }

  override async perform(step: Step): Promise<void> {
    this.print(formatStep(step));
  }
}

/** Keeps the steps for unit tests; reads come from a canned table. */
export class RecordingRunner implements Runner {
  readonly steps: Step[] = [];
  constructor(private readonly reads: Record<string, string> = {}) {}

  async read(argv: string[]): Promise<string> {
    const key = argv.join(' ');
    const canned = this.reads[key];
    if (canned === undefined) throw new CommandFailedError(argv, 'no canned output', 1);
    return canned;
  }

  async perform(step: Step): Promise<void> {
    this.steps.push(step);
  }
}

export function formatStep(step: Step): string {
  switch (step.kind) {
    case 'write':
      return `cat > ${shellQuote(step.path)} <<'EOF'\n${step.content.replace(/\n$/, '')}\nEOF`;
    case 'remove':
      return `rm -f ${shellQuote(step.path)}`;
    case 'sysctl':
      return `echo ${step.value} > ${step.path}`;
    case 'run': {
      const command = step.argv.map(shellQuote).join(' ');
      return step.input === undefined ? command : `${command} <<'EOF'\n${step.input.replace(/\n$/, '')}\nEOF`;
    }
  }
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Write-to-temp, fsync, rename: a crash leaves the old file or the new one, never half of one. */
export async function writeAtomically(path: string, content: string): Promise<void> {
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await fs.open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, path);
  // The rename is durable only once the directory entry is.
  const dir = await fs.open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
