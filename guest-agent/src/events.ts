import { ONE_TIME_NAME } from '@guestnet/protocol';
import { IpMonitor } from '@guestnet/runtime';
import { parseEventLine } from './event-lines.js';
import type { GuestLink } from './observe.js';

/** A link of a one-time name that an event line shows, as a look would: a new link has no address yet. */
export function oneTimeLinkIn(line: string): GuestLink | undefined {
  const event = parseEventLine(line);
  if (event.kind !== 'link' || event.deleted || !ONE_TIME_NAME.test(event.name)) return undefined;
  return { name: event.name, index: event.index, alias: undefined, mtu: event.mtu, up: event.up, addresses: [] };
}

/**
 * What the events since a look began showed, when all they showed was the
 * host's new links arriving: each under its one-time name, perhaps first under
 * the name it was moved in with (a NIC, or a link of a lasting name, comes
 * under another name and is renamed in the same message: two lines of one
 * index). A link line of another name waits for its rename; any other event,
 * a second line of another name, or a rename that never comes, means a look
 * is needed.
 */
export class Arrivals {
  private links: GuestLink[] | undefined = [];
  /** Indexes of links shown under a name that is not one-time, which only a rename to one can explain. */
  private readonly renamingIndexes = new Set<number>();

  /** A look starts: what it shows covers the events before it. */
  reset(): void {
    this.links = [];
    this.renamingIndexes.clear();
  }

  /** `line` undefined: the monitor restarted, and anything may have happened meanwhile. */
  heard(line: string | undefined): void {
    if (this.links === undefined) return;
    const event = line === undefined ? undefined : parseEventLine(line);
    const link = line === undefined ? undefined : oneTimeLinkIn(line);
    if (link && !this.links.some((l) => l.name === link.name)) {
      if (link.index !== undefined) this.renamingIndexes.delete(link.index);
      this.links.push(link);
    } else if (
      event?.kind === 'link' &&
      !event.deleted &&
      !link &&
      !this.links.some((l) => l.index === event.index) &&
      !this.renamingIndexes.has(event.index)
    )
      this.renamingIndexes.add(event.index);
    else this.links = undefined;
  }

  /** Whether all that came is links, some of them shown once under another name: the rename each awaits ends its arrival. */
  get renaming(): boolean {
    return this.links !== undefined && this.renamingIndexes.size > 0;
  }

  /** The links that arrived, if nothing else happened; undefined otherwise. */
  get only(): GuestLink[] | undefined {
    return this.renamingIndexes.size > 0 ? undefined : this.links;
  }
}

/** How many of the latest event lines are kept for linesAfter: an apply's own events, and some. */
const RECENT_LINES = 64;

/**
 * Kernel link/address/route/rule events in this netns, from one long-lived
 * `ip monitor`. `next()` resolves at the next event, so waiting costs nothing
 * and a link that arrives is seen at once rather than at the next poll. A
 * monitor that dies is restarted, and its restart counts as an event: what
 * happened meanwhile is looked at.
 */
export class NetEvents {
  private waiters: Array<() => void> = [];
  private readonly monitor = new IpMonitor(
    [],
    ['link', 'address', 'route', 'rule'],
    (line) => this.heard(line),
    () => this.heard(undefined),
  );
  /** Links of one-time names that arrived since the last look, while nothing else happened. */
  private readonly arrived = new Arrivals();
  /** An event came while nobody waited: the next wait must not miss it. */
  private missed = false;
  private count = 0;
  /** The latest events by their seq; a monitor restart's line is undefined. */
  private recent: Array<{ seq: number; line: string | undefined }> = [];

  start(): void {
    this.monitor.start();
  }

  /**
   * Resolves true at the next event (at once if one came since the last
   * wait), or false after `timeoutMs`.
   */
  next(timeoutMs: number): Promise<boolean> {
    if (this.missed) {
      this.missed = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  stop(): void {
    this.monitor.stop();
    this.wake();
  }

  /** A look starts: what it shows covers the events before it. */
  lookStarts(): void {
    this.arrived.reset();
  }

  /**
   * The links of one-time names (the host's new pairs) that arrived since
   * the last look began, if no other event came: the look plus these is
   * what a new look would show, so it can be skipped. Undefined otherwise.
   */
  arrivalsOnly(): GuestLink[] | undefined {
    return this.arrived.only;
  }

  /** Whether the events since the last look are links arriving, one of them moved in and not yet renamed (Arrivals). */
  awaitsRename(): boolean {
    return this.arrived.renaming;
  }

  /** How many events (and monitor restarts) came so far: tells whether one came after a given moment. */
  get seq(): number {
    return this.count;
  }

  /**
   * The lines of the events after `seq` up to now, oldest first; undefined
   * when some of them are no longer kept.
   */
  linesAfter(seq: number): Array<string | undefined> | undefined {
    const after = this.recent.filter((event) => event.seq > seq);
    return after.length === this.count - seq ? after.map((event) => event.line) : undefined;
  }

  /** `line` undefined: the monitor restarted, and anything may have happened meanwhile. */
  private heard(line: string | undefined): void {
    this.recent.push({ seq: this.count + 1, line });
    if (this.recent.length > RECENT_LINES) this.recent.shift();
    this.arrived.heard(line);
    this.wake();
  }

  private wake(): void {
    this.count++;
    if (this.waiters.length === 0) this.missed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
