import type { Socket } from 'node:net';
import { SourceBudget } from './budget.js';
import { type NetnsHint, PeerNetns } from './peer-netns.js';

/**
 * What becomes of a session for a link, decided before its proof is checked:
 * `own` from the netns of the link's guest, within its budget; `busy` from
 * there, beyond it; `foreign` from any other netns, which is refused whatever
 * it proves (and a valid proof means the token leaked); `drop` from another
 * netns beyond its budget, closed without a word; `unknown` when the host
 * cannot tell.
 */
export type Admission = 'own' | 'busy' | 'foreign' | 'drop' | 'unknown';

export interface Admitted {
  admission: Admission;
  /** The netns the connection came from, where known. */
  source: string | undefined;
}

export interface Rate {
  burst: number;
  perSecond: number;
}

/** Sessions a guest may open from its own netns, and attempts on other guests' links from any netns. */
export interface AdmissionLimits {
  sessions: Rate;
  foreign: Rate;
}

/**
 * Binds sessions to their guests: a session for a link is accepted only from
 * the netns of that link's attachment, and each netns pays for its sessions
 * out of its own budget, so that no guest buys the host's CPU with sessions,
 * and none spends another's budget by naming its link.
 */
export class GuestAdmission {
  private readonly sessions: SourceBudget;
  private readonly foreign: SourceBudget;

  constructor(
    limits: AdmissionLimits,
    readonly peers: PeerNetns = new PeerNetns(),
  ) {
    this.sessions = new SourceBudget(limits.sessions.burst, limits.sessions.perSecond);
    this.foreign = new SourceBudget(limits.foreign.burst, limits.foreign.perSecond);
  }

  async admit(socket: Socket, expected: NetnsHint): Promise<Admitted> {
    const from = await this.peers.isFrom(socket, expected);
    if (from === 'yes') return { admission: this.sessions.take(expected.netns) ? 'own' : 'busy', source: expected.netns };
    if (from === 'unknown') return { admission: 'unknown', source: undefined };
    const source = (await this.peers.sourcesOf([socket])).get(socket);
    return { admission: this.foreign.take(source ?? 'unknown') ? 'foreign' : 'drop', source };
  }

  /** The netns of each connection, for the limits on connections that have not said hello (pending.ts). */
  sourcesOf(sockets: Socket[]): Promise<Map<Socket, string>> {
    return this.peers.sourcesOf(sockets);
  }
}
