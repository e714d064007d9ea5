import { promises as fs } from 'node:fs';
import type { LastApply } from '@guestnet/protocol';
import { writeAtomically } from '@guestnet/runtime';

export type HostState = 'waiting for our link' | 'connecting' | 'connected';

/** What a running agent knows that the kernel does not: written by `run`, read by `status`. */
export interface AgentStatus {
  pid: number;
  socket: string;
  host: { state: HostState; since: string };
  /** The link id (protocol/README.md) of the link the agent keeps configured, if any: never its token, as this file is readable by all. */
  link: string | undefined;
  /** Its ifindex, which a new token leaves as it is: `status` finds the link by it while the file still names an older token's id. */
  linkIndex?: number | undefined;
  lastApply: LastApply | undefined;
}

/** How the status file is written: replaced whole (runtime's writeAtomically, not durable). */
export type StatusWriter = (path: string, content: string) => Promise<void>;

// Far longer than an attach's exchange takes; short enough that a status read during a hung session says so.
const HOLD_AT_MOST_MS = 1000;

const replaceWhole: StatusWriter = (path, content) => writeAtomically(path, content, { mode: 0o644, durable: false });

/**
 * Keeps the status file current; a failed write never stops the agent.
 * Changes of one moment (an apply's result and the session it completes)
 * make one write, of the newest status, once what runs now has run.
 */
export class StatusFile {
  private status: AgentStatus;
  private writing: Promise<void> = Promise.resolve();
  /** A write is queued that has not read the status yet: a change now goes with it. */
  private queued = false;
  /** Writes wait for it: the agent's work on an attach's path (holdDuring). */
  private held: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly path: string,
    socket: string,
    private readonly write: StatusWriter = replaceWhole,
  ) {
    this.status = {
      pid: process.pid,
      socket,
      host: { state: 'waiting for our link', since: now() },
      link: undefined,
      lastApply: undefined,
    };
    this.update({});
  }

  host(state: HostState): void {
    if (this.status.host.state !== state) this.update({ host: { state, since: now() } });
  }

  update(change: Partial<AgentStatus>): void {
    this.status = { ...this.status, ...change };
    if (this.queued) return;
    this.queued = true;
    this.writing = this.writing
      .then(() => this.held)
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        this.queued = false;
        return this.write(this.path, `${JSON.stringify(this.status)}\n`);
      })
      .catch(() => {});
  }

  /**
   * Writes wait until `work` settles, then go as one: what the agent does
   * from finding its link until it has told the host it applied (connecting,
   * the session, the apply) is what an attach waits for, and a write meanwhile
   * would hold up the next step of it by as long as it takes.
   */
  holdDuring<T>(work: Promise<T>): Promise<T> {
    // A host that does not answer is shown as such after a while: the hold is no longer than that.
    const bound = new Promise<void>((resolve) => setTimeout(resolve, HOLD_AT_MOST_MS).unref());
    this.held = Promise.race([work.catch(() => {}), bound]);
    return work;
  }

  /** Removes the file on a clean stop, so `status` does not report a stale agent. */
  async remove(): Promise<void> {
    await this.writing;
    await fs.rm(this.path, { force: true });
  }
}

export async function readStatus(path: string): Promise<AgentStatus | undefined> {
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
}

const now = () => new Date().toISOString();
