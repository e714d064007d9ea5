import { SpareProcess } from '@guestnet/runtime';
import { SPARE_COMMANDS, type SpareCommand } from '../model/step.js';

/**
 * The processes a long-lived runner (the daemon's) keeps spawned ahead: one
 * of each spare command (model/step.ts) it has been told to keep or has run
 * once, so the next step that names that command finds it waiting for its
 * input. Node's spawn blocks the loop until the child has exec'd; spawned
 * ahead, that cost falls between attaches, not within one. Closed, it keeps
 * nothing and hands out nothing.
 */
export class Spares {
  private readonly kept = new Map<SpareCommand, SpareProcess>();
  private closed = false;

  /** `argvOf`: each command's argv; the unit tests give stand-ins. */
  constructor(private readonly argvOf: (command: SpareCommand) => readonly string[] = (command) => SPARE_COMMANDS[command]) {}

  /** Keeps one of `command` waiting from now on. */
  keep(command: SpareCommand): void {
    this.of(command);
  }

  /** The kept process of `command`, kept from now on; undefined once closed. */
  of(command: SpareCommand): SpareProcess | undefined {
    if (this.closed) return undefined;
    let spare = this.kept.get(command);
    if (!spare) {
      spare = new SpareProcess(this.argvOf(command));
      spare.keep();
      this.kept.set(command, spare);
    }
    return spare;
  }

  /** Kills every process waiting, and keeps none from now on. */
  close(): void {
    this.closed = true;
    for (const spare of this.kept.values()) spare.close();
    this.kept.clear();
  }
}
