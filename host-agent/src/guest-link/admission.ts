import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pacer, SourceBudget } from './budget.js';
import { type NetnsHint, PeerNetns } from './peer-netns.js';

/**
 * What becomes of a session for a link, decided before its proof is checked:
 * `own` from the netns of the link's guest, within its budget; `busy` beyond
 * that budget; `foreign` from any other netns, which is refused whatever it
 * proves (and a valid proof means the token leaked); `drop` beyond the
 * budget of attempts on that link from elsewhere, closed without a word;
 * `unknown` when the host cannot tell.
 */
export type Admission = 'own' | 'busy' | 'foreign' | 'drop' | 'unknown';

export interface Admitted {
  admission: Admission;
  /** The netns the connection came from, where known. */
  source: string | undefined;
  /** For `busy`: resolves when the answer may go. A guest that waits for it before trying again gets nowhere fast. */
  answerWhen?: () => Promise<void>;
}

export interface Rate {
  burst: number;
  perSecond: number;
}

/** Sessions a guest may open from its own netns, and attempts on each guest's link from other netns. */
export interface AdmissionLimits {
  sessions: Rate;
  foreign: Rate;
  /** Looks at the table of a link's netns, for connections that name it, whoever they come from; they wait their turn. */
  looks: Rate & { maxWaitMs: number };
  /** How long a session beyond its budget waits for its answer. */
  busyAnswerMs: number;
}

/**
 * Binds sessions to their guests: a session for a link is accepted only from
 * the netns of that link's attachment, and each netns pays for its sessions
 * out of its own budget, so that no guest buys the host's CPU with sessions,
 * and none spends another's budget by naming its link. What is beyond a
 * budget costs the host as little as can be: a guest over its own is answered
 * from the budget alone, without a look at any table, and only after a wait;
 * attempts on a link from elsewhere beyond theirs are closed unanswered.
 */
export class GuestAdmission {
  private readonly sessions: SourceBudget;
  private readonly foreign: SourceBudget;
  private readonly looks: Pacer;

  constructor(
    private readonly limits: AdmissionLimits,
    readonly peers: PeerNetns = new PeerNetns(),
  ) {
    this.sessions = new SourceBudget(limits.sessions.burst, limits.sessions.perSecond);
    this.foreign = new SourceBudget(limits.foreign.burst, limits.foreign.perSecond);
    this.looks = new Pacer(limits.looks.burst, limits.looks.perSecond, limits.looks.maxWaitMs);
  }

  async admit(socket: Socket, expected: NetnsHint): Promise<Admitted> {
    // Spent already: from the guest or not, no session for this link now, and no need to look.
    if (!this.sessions.has(expected.netns)) return this.busy(undefined);
    // The guest decides its table's size: a flood naming its link waits its turn rather than have it read over and over.
    const wait = this.looks.turn(expected.netns);
    if (wait === undefined) return this.busy(undefined);
    if (wait > 0) await sleep(wait);
    const from = await this.peers.isFrom(socket, expected);
    // Closed meanwhile (a flood's oldest, dropped): nothing to answer.
    if (socket.destroyed) return { admission: 'drop', source: undefined };
    if (from === 'yes')
      return this.sessions.take(expected.netns) ? { admission: 'own', source: expected.netns } : this.busy(expected.netns);
    if (from === 'unknown') return { admission: 'unknown', source: undefined };
    // Counted against the link named, so that finding the source is spent only on what gets an answer.
    if (!this.foreign.take(expected.netns)) return { admission: 'drop', source: undefined };
    return { admission: 'foreign', source: (await this.peers.sourcesOf([socket])).get(socket) };
  }

  private busy(source: string | undefined): Admitted {
    return { admission: 'busy', source, answerWhen: () => sleep(this.limits.busyAnswerMs) };
  }

  /** The netns of each connection, for the limits on connections that have not said hello (pending.ts). */
  sourcesOf(sockets: Socket[]): Promise<Map<Socket, string>> {
    return this.peers.sourcesOf(sockets);
  }
}
