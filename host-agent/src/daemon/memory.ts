import { CommandFailedError } from '@guestnet/protocol';
import type { Runner, Step } from '../exec/runner.js';
import type { HostQuery } from '../model/host-queries.js';
import type { Reader } from '../model/step.js';
import { SourceBudget } from '../guest-link/budget.js';

/** What glance keeps per read: an argv's text, or a query's name. */
const argvKey = (argv: readonly string[]) => `argv ${argv.join(' ')}`;
const queryKey = (query: HostQuery) => `query ${query.name}`;

// Our own commands come back as events a moment later: one re-read after the host has settled serves them all.
const SETTLE_MS = 50;
// A re-read costs a process per remembered answer, and events (which anyone can cause: a guest that flaps its link)
// start one: a few at once, then two a second, the last of a flood once it allows. A query asked while its answer is
// stale reads for itself anyway. The re-read after a change of ours is that change's own, outside the budget: there is
// one per attach, detach or rotation, and spending the events' budget on them would leave the next attach, after a
// change of someone else's, to read for itself.
const REREADS = { burst: 4, perSecond: 2 };
const REREAD_RETRY_MS = 1000 / REREADS.perSecond;

interface Answer {
  generation: number;
  text: Promise<string>;
}

/**
 * The daemon's runner: remembers the answers of the host model's queries
 * (model/host-queries.ts), so an attach plans from memory and spends its
 * processes on changes, and the checking loop reads only what no event
 * reports. Any event and any command of ours make every answer stale; they
 * are read again once the host has settled and no change of ours is under
 * way (a re-read's processes would slow it down), and a query that comes
 * first reads for itself. Reads by argv pass through, whatever their argv.
 */
export class HostMemory implements Runner {
  private generation = 0;
  private readonly answers = new Map<HostQuery, Answer>();
  private rereadTimer: NodeJS.Timeout | undefined;
  private busy = 0;
  /** A change of ours that ran a command on the host ended since the last re-read: the next one is owed to it (REREADS). */
  private owedToOurs = false;
  /** Commands of ours that may have changed the host, counted: whether a change ran one. */
  private hostCommands = 0;
  private readonly rereads = new SourceBudget(REREADS.burst, REREADS.perSecond);
  /** For the loop that checks the host: what the checking loop keeps fresh (the firewall) afresh, the rest from memory. */
  readonly checking: Runner;
  /** For status, which must answer while a command hangs: see glance. */
  readonly glancing: Reader;
  /** What glance has been asked for, with the last answer each gave, and what is being read or last failed. */
  private readonly glanced = new Set<string>();
  private readonly lastAnswers = new Map<string, string>();
  private readonly reading = new Map<string, number>();
  private readonly lastFailed = new Set<string>();

  /** `listening`: whether the host's events are heard now; nothing is remembered before, lest one be missed. */
  constructor(
    private readonly inner: Runner,
    private readonly listening: () => boolean,
  ) {
    const memory = this;
    this.checking = {
      read: (argv) => memory.read(argv),
      query: (query) => (query.keptFreshBy === 'checking-loop' ? memory.ask(query) : memory.query(query)),
      perform: (step, secrets) => memory.perform(step, secrets),
      get processes() {
        return memory.processes;
      },
    };
    this.glancing = {
      read: (argv) => memory.glance(argvKey(argv), () => memory.read(argv)),
      query: (query) => memory.glance(queryKey(query), () => memory.query(query)),
    };
  }

  get processes(): number {
    return this.inner.processes;
  }

  get sideBySide(): boolean | undefined {
    return this.inner.sideBySide;
  }

  /** Something changed on the host, or may have: every answer is stale. */
  changed(): void {
    this.generation++;
    this.scheduleReread();
  }

  close(): void {
    clearTimeout(this.rereadTimer);
    this.forget();
  }

  /** Whether no attach or detach is under way. */
  get idle(): boolean {
    return this.busy === 0;
  }

  /** Runs an attach or a detach: re-reading waits until none is under way. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.busy++;
    const commandsBefore = this.hostCommands;
    try {
      return await work();
    } finally {
      this.busy--;
      // One that ran none (a rotation works in its guest's netns alone) owes nothing: what is stale, events made so.
      if (this.hostCommands !== commandsBefore) this.owedToOurs = true;
      this.scheduleReread();
    }
  }

  read(argv: string[]): Promise<string> {
    const text = this.inner.read(argv);
    if (this.glanced.has(argvKey(argv))) this.follow(argvKey(argv), text);
    return text;
  }

  query(query: HostQuery): Promise<string> {
    const known = this.answers.get(query);
    if (known?.generation === this.generation) return known.text;
    return this.ask(query);
  }

  async perform(step: Step, secrets?: readonly string[]): Promise<void> {
    try {
      await this.inner.perform(step, secrets);
    } finally {
      // State files are not among the answers; a command may have changed any of them, unless it acts only in a guest.
      if (step.kind === 'run' && !step.guestOnly) {
        this.hostCommands++;
        this.changed();
      }
    }
  }

  /**
   * A read that does not wait on what may hang. While a change of ours is
   * under way, while the same read is out (the loop's, or another status's),
   * or when it last did not run to its end (a deadline met), a wedged tool is
   * likely and the answer may be changing anyway: the last answer stands.
   * Otherwise, and whenever there is none, it is read as usual.
   */
  private glance(key: string, read: () => Promise<string>): Promise<string> {
    this.glanced.add(key);
    const last = this.lastAnswers.get(key);
    const doubtful = this.busy > 0 || (this.reading.get(key) ?? 0) > 0 || this.lastFailed.has(key);
    if (last !== undefined && doubtful) return Promise.resolve(last);
    // Remembered answers come back without a read: how they end counts too.
    const text = read();
    this.follow(key, text);
    return text;
  }

  /** Drops every answer: after a failure, or when events may have been lost. */
  forget(): void {
    this.generation++;
    this.answers.clear();
  }

  /** Reads afresh, and remembers the answer while the host's events are heard. */
  private ask(query: HostQuery): Promise<string> {
    const text = this.inner.query(query);
    if (this.glanced.has(queryKey(query))) this.follow(queryKey(query), text);
    if (!this.listening()) return text;
    const answer = { generation: this.generation, text };
    this.answers.set(query, answer);
    // A table that does not exist is an answer until an event (or, for the firewall, a command of ours) makes it; a
    // command that did not run is none, nor a firewall read that failed for another reason.
    const answered = (error: unknown) =>
      error instanceof CommandFailedError &&
      error.commandExitCode !== undefined &&
      (query.keptFreshBy === 'kernel-events' || query.absentWhen?.test(error.stderr) === true);
    text.catch((error: unknown) => answered(error) || (this.answers.get(query) === answer && this.answers.delete(query)));
    return text;
  }

  /** Keeps what glance needs of a read of `key`: that it is out, and how it ended. */
  private follow(key: string, text: Promise<string>): void {
    this.reading.set(key, (this.reading.get(key) ?? 0) + 1);
    const ended = () => this.reading.set(key, (this.reading.get(key) ?? 1) - 1);
    text.then(
      (answer) => {
        ended();
        this.lastAnswers.set(key, answer);
        this.lastFailed.delete(key);
      },
      (error: unknown) => {
        ended();
        // One that exited said something (a table that is gone): what it said before no longer holds.
        if (error instanceof CommandFailedError && error.commandExitCode !== undefined) {
          this.lastAnswers.delete(key);
          this.lastFailed.delete(key);
        } else this.lastFailed.add(key);
      },
    );
  }

  private scheduleReread(): void {
    clearTimeout(this.rereadTimer);
    this.rereadTimer = setTimeout(() => this.reread(), SETTLE_MS);
    this.rereadTimer.unref();
  }

  private reread(): void {
    if (this.busy > 0) return;
    const stale = [...this.answers].filter(([, answer]) => answer.generation !== this.generation).map(([query]) => query);
    const owed = this.owedToOurs;
    this.owedToOurs = false;
    if (stale.length === 0) return;
    if (!owed && !this.rereads.take('host')) {
      this.rereadTimer = setTimeout(() => this.reread(), REREAD_RETRY_MS);
      this.rereadTimer.unref();
      return;
    }
    for (const query of stale) void this.ask(query).catch(() => {});
  }
}
