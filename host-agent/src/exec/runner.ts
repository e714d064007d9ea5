import { promises as fs, writeFileSync } from 'node:fs';
import { CommandFailedError, KernelFeatureError, redact } from '@guestnet/protocol';
import { type CommandResult, DEFAULT_COMMAND_DEADLINE_MS, runCommand, runCommandInParts, writeAtomically } from '@guestnet/runtime';
import type { HostQuery } from '../model/host-queries.js';
import type { Performer, Reader, Step } from '../model/step.js';
import { stateDirFailure } from '../state/dir.js';
import type { Spares } from './spares.js';

export type { Step } from '../model/step.js';

/**
 * Performs steps; the one place host-agent changes anything. `secrets`: the
 * link tokens and one-time names the step carries (steps.ts secretsIn), shown
 * as placeholders wherever the step or its failure is printed.
 */
export interface Runner extends Reader, Performer {
  /** How many processes this runner has started, reads included. */
  readonly processes: number;
  /** Whether independent ops may run side by side (exec/apply.ts); a dry run prints them in plan order. */
  readonly sideBySide?: boolean;
}

export class RealRunner implements Runner {
  processes = 0;
  readonly sideBySide: boolean = true;

  /**
   * `commandTimeout`: how long each command may run before it is killed and its step fails. `spares`: the processes
   * spawned ahead, in which the steps that name a spare command run; their owner closes them.
   */
  constructor(
    private readonly commandTimeout = DEFAULT_COMMAND_DEADLINE_MS,
    private readonly spares?: Spares,
  ) {}

  async read(argv: string[]): Promise<string> {
    this.processes++;
    const result = await runCommand(argv, undefined, this.commandTimeout);
    if (result.exitCode !== 0) throw new CommandFailedError(argv, result.stderr, result.exitCode);
    return result.stdout;
  }

  query(query: HostQuery): Promise<string> {
    return this.read([...query.argv]);
  }

  async perform(step: Step, secrets: readonly string[] = []): Promise<void> {
    // State files describe kernel state (links, rules, sysctls) that a power
    // cut takes with it, so they are not synced: the rename alone keeps each
    // whole across a crash of the process. A power cut may leave a new record
    // empty, and an empty record is read as none (state/records.ts).
    if (step.kind === 'write')
      return writeAtomically(step.path, step.content, { durable: false }).catch((error: unknown) =>
        Promise.reject(stateDirFailure(error, step.path)),
      );
    if (step.kind === 'remove') return fs.rm(step.path, { force: true });
    // /proc/sys files take one in-place write; there is nothing to rename over them. The kernel answers most at
    // once: written on the spot, not through libuv's thread pool, whose round trips an attach would wait for when
    // busy. One that waits for rtnl, which any process's link change holds, goes through the pool: the daemon goes
    // on meanwhile.
    if (step.kind === 'sysctl') {
      try {
        if (step.waitsForRtnl) await fs.writeFile(step.path, `${step.value}\n`);
        else writeFileSync(step.path, `${step.value}\n`);
      } catch (error) {
        if (!(step.ifPresent && (error as NodeJS.ErrnoException).code === 'ENOENT')) throw error;
      }
      return;
    }
    this.processes++;
    const running = this.run(step, async () => {
      for (const inner of step.midway?.steps ?? []) await this.perform(inner, secrets);
    });
    // A command that could not run or timed out quotes what it printed: a token in it shows as a placeholder.
    const result = await running.catch((error: unknown) => {
      if (!(error instanceof CommandFailedError) || secrets.length === 0) throw error;
      throw new CommandFailedError(
        error.argv.map((word) => redact(word, secrets)),
        redact(error.stderr, secrets),
        error.commandExitCode,
      );
    });
    if (result.exitCode === 0) return;
    if (step.tolerate?.test(result.stderr)) return;
    if (step.unsupported?.when.test(result.stderr)) throw new KernelFeatureError(step.unsupported.message);
    // The error is printed and logged, its stderr too: a tool that quotes a token or a one-time name shows a placeholder.
    throw new CommandFailedError(
      step.argv.map((word) => redact(word, secrets)),
      redact(result.stderr, secrets),
      result.exitCode,
    );
  }

  /** The step's process: its input, in two parts if it has work midway; in the spare where the step says so. */
  private run(step: Extract<Step, { kind: 'run' }>, between: () => Promise<void>): Promise<CommandResult> {
    const spare = step.spare ? this.spares?.of(step.spare) : undefined;
    const [input, timeout] = [step.input, this.commandTimeout];
    if (step.midway) {
      const { rest } = step.midway;
      return spare
        ? spare.runInParts(input ?? '', between, rest, timeout)
        : runCommandInParts(step.argv, input ?? '', between, rest, timeout);
    }
    return spare ? spare.run(input ?? '', timeout) : runCommand(step.argv, input, timeout);
  }
}

/** Prints what would run, exactly, in a form that can be pasted into a root shell, but for placeholders where a link token would be. */
export class DryRunRunner extends RealRunner {
  override readonly sideBySide = false;
  readonly dryRun = true;
  constructor(private readonly print: (line: string) => void) {
    super();
  }

  override async perform(step: Step, secrets: readonly string[] = []): Promise<void> {
    this.print(formatStep(step, secrets));
  }
}

/** Keeps the steps for unit tests; reads come from a canned table. */
export class RecordingRunner implements Runner {
  readonly steps: Step[] = [];
  readonly reads: string[][] = [];
  constructor(private readonly canned: Record<string, string> = {}) {}

  get processes(): number {
    return this.reads.length + this.steps.filter((s) => s.kind === 'run').length;
  }

  async read(argv: string[]): Promise<string> {
    this.reads.push(argv);
    const output = this.canned[argv.join(' ')];
    if (output === undefined) throw new CommandFailedError(argv, 'no canned output', 1);
    return output;
  }

  /** Recorded as the read of its argv, answered from the table by it. */
  query(query: HostQuery): Promise<string> {
    return this.read([...query.argv]);
  }

  async perform(step: Step): Promise<void> {
    this.steps.push(step);
  }
}

/** A step as a root shell would take it; each of `secrets` it carries shows as a placeholder. */
export function formatStep(step: Step, secrets: readonly string[] = []): string {
  return redact(shellForm(step), secrets);
}

function shellForm(step: Step): string {
  switch (step.kind) {
    case 'write':
      return `cat > ${shellQuote(step.path)} <<'EOF'\n${step.content.replace(/\n$/, '')}\nEOF`;
    case 'remove':
      return `rm -f ${shellQuote(step.path)}`;
    case 'sysctl':
      return `echo ${step.value} > ${step.path}`;
    case 'run': {
      const command = step.argv.map(shellQuote).join(' ');
      const run = (input: string | undefined) => (input === undefined ? command : `${command} <<'EOF'\n${input.replace(/\n$/, '')}\nEOF`);
      if (!step.midway) return run(step.input);
      // In a shell the two parts take two processes, to the same effect.
      return [run(step.input), ...step.midway.steps.map((inner) => shellForm(inner)), run(step.midway.rest)].join('\n');
    }
  }
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
