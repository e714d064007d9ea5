import { type CommandResult, killWhole, type Running, runInParts, runWith, setHeld, spawnCollecting } from './running.js';
import { DEFAULT_COMMAND_DEADLINE_MS } from './command.js';

/** How long after a spare has been taken and has exited the next one is spawned: after the work it ran for, not within it. */
const RESPAWN_DELAY_MS = 50;

/**
 * One command's process spawned ahead, waiting on its stdin. Node's spawn
 * forks the whole agent and blocks its loop until the child has exec'd:
 * milliseconds, on the attach path. A command that does nothing before it
 * has read its input (`ip -batch -`) can be spawned while the agent idles and
 * handed its input when it is needed: the same process and the same work,
 * started earlier.
 *
 * Its owner makes it (the daemon one for the host's `ip -batch`, the guest
 * agent one for its own looks) and hands it to the code that runs that
 * command, which runs it here rather than through runCommand: a process
 * waiting is taken, else one is spawned as runCommand would. From `keep()`
 * until `close()`, another is spawned ahead each time the last has exited.
 * Nothing else ever takes it.
 */
export class SpareProcess {
  private waiting: Running | undefined;
  /** The spawn ahead due once the last run's process has exited, if one is. */
  private respawn: NodeJS.Timeout | undefined;
  /** How many more to spawn ahead: any number while kept, none once closed, at most the one due once paused. */
  private ahead = 0;

  /** Spawns nothing yet: its owner says when (keep). */
  constructor(readonly argv: readonly string[]) {}

  /** Spawns one ahead now, and another after each run, until close. */
  keep(): void {
    if (this.ahead === Number.POSITIVE_INFINITY) return;
    this.ahead = Number.POSITIVE_INFINITY;
    this.spawnAhead();
  }

  /**
   * Spawns none ahead after the next run, until keep() again: the one
   * waiting, or the one due to be spawned ahead now, serves that run. For an
   * owner whose next run is one it knows to wait for, and whose runs after it
   * may spawn their own.
   */
  pause(): void {
    this.ahead = this.waiting === undefined && this.respawn !== undefined ? 1 : 0;
  }

  /** Runs the command with `input`, as runCommand does. */
  run(input: string, deadlineMs = DEFAULT_COMMAND_DEADLINE_MS): Promise<CommandResult> {
    return runWith(this.take(), this.argv, input, deadlineMs);
  }

  /** Runs the command with its input in two parts and work between, as runCommandInParts does. */
  runInParts(first: string, between: () => Promise<void>, rest: string, deadlineMs = DEFAULT_COMMAND_DEADLINE_MS): Promise<CommandResult> {
    return runInParts(this.take(), this.argv, first, between, rest, deadlineMs);
  }

  /** The pid of the process waiting now, if one is: what a test watches. */
  get waitingPid(): number | undefined {
    return this.waiting?.child.pid;
  }

  /** Kills the process waiting, and spawns no other. */
  close(): void {
    this.ahead = 0;
    clearTimeout(this.respawn);
    this.respawn = undefined;
    if (this.waiting) killWhole(this.waiting.child);
    this.waiting = undefined;
  }

  /** The process waiting, or one spawned now; once it has exited, another is spawned ahead if kept. */
  private take(): Running {
    const waiting = this.waiting;
    this.waiting = undefined;
    const alive = waiting && waiting.child.exitCode === null && waiting.child.signalCode === null;
    const running = alive ? waiting : spawnCollecting(this.argv, true);
    if (alive) setHeld(running.child, true);
    const next = () => {
      clearTimeout(this.respawn);
      this.respawn = setTimeout(() => {
        this.respawn = undefined;
        this.spawnAhead();
      }, RESPAWN_DELAY_MS).unref();
    };
    void running.result.then(next, next);
    return running;
  }

  private spawnAhead(): void {
    if (this.ahead <= 0 || this.waiting) return;
    this.ahead--;
    const running = spawnCollecting(this.argv, true);
    this.waiting = running;
    // Waiting, it neither holds the agent open nor outlives it (running.ts kills what is under way at exit). One
    // that dies is not used: the next run spawns as runCommand would, then another is spawned ahead.
    setHeld(running.child, false);
    void running.result
      .catch(() => {})
      .finally(() => {
        if (this.waiting === running) this.waiting = undefined;
      });
  }
}
