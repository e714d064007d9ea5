import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SourceBudget } from './budget.js';
import { UNTOLD_NETNS } from './peer-netns.js';

export interface GateRate {
  burst: number;
  perSecond: number;
}

export interface GateLimits {
  /** Connections from everyone together that go straight on, their netns unlooked-at. */
  calm: GateRate;
  /** Connections from one netns that go on once more come than `calm` lets through. */
  perNetns: GateRate;
  /** Netns whose rate is remembered, at most. */
  maxNetns: number;
}

// Connections held meanwhile are looked up together, at most this often: a flood pays one look per batch.
const MIN_LOOK_GAP_MS = 100;

type Held = { socket: Socket; decide: (pass: boolean) => void };

/**
 * Bounds the rate of connections the daemon works on, per netns. While
 * connections come no faster than `calm`, each goes on at once, unlooked-at:
 * the attach path pays nothing. Beyond that, connections are held unread and
 * looked up in batches; each netns pays for its own out of a budget, and what
 * is beyond it is closed unread, never greeted, never logged one by one. A
 * guest that connects and hangs up in a loop then costs the host its accepts
 * and one look per batch, and cannot crowd out another guest, whose netns has
 * a budget of its own. Held connections are not read: one whose client hung
 * up is still in its netns' table, and is counted against that netns.
 */
export class ConnectionGate {
  private readonly calm: SourceBudget;
  private readonly perNetns: SourceBudget;
  private held: Held[] = [];
  private looking = false;
  private lookedAt = Number.NEGATIVE_INFINITY;

  constructor(
    limits: GateLimits,
    private readonly sourcesOf: (sockets: Socket[]) => Promise<Map<Socket, string>>,
    /** Hears, once a batch, how many connections of a netns were closed for going beyond its rate. */
    private readonly onClosed: (reason: string) => void,
  ) {
    this.calm = new SourceBudget(limits.calm.burst, limits.calm.perSecond, 1);
    this.perNetns = new SourceBudget(limits.perNetns.burst, limits.perNetns.perSecond, limits.maxNetns);
  }

  /** Whether the daemon may work on `socket`: at once while calm, after a look at its netns otherwise. */
  pass(socket: Socket): Promise<boolean> {
    if (this.calm.take('all')) return Promise.resolve(true);
    return new Promise((decide) => {
      this.held.push({ socket, decide });
      void this.look();
    });
  }

  /** One look at a time; what arrives during it waits for the next. */
  private async look(): Promise<void> {
    if (this.looking) return;
    this.looking = true;
    try {
      while (this.held.length > 0) {
        const wait = this.lookedAt + MIN_LOOK_GAP_MS - Date.now();
        if (wait > 0) await sleep(wait);
        this.lookedAt = Date.now();
        const batch = this.held;
        this.held = [];
        const sources = await this.sourcesOf(batch.map(({ socket }) => socket)).catch(() => new Map<Socket, string>());
        const closed = new Map<string, number>();
        for (const { socket, decide } of batch) {
          // Connections whose netns the host cannot tell share one budget, so that they are bounded too.
          const source = sources.get(socket) ?? UNTOLD_NETNS;
          // Closed meanwhile, to keep the connections waiting for a hello within their limits.
          if (socket.destroyed) decide(false);
          else if (this.perNetns.take(source)) decide(true);
          else {
            closed.set(source, (closed.get(source) ?? 0) + 1);
            decide(false);
          }
        }
        for (const [source, count] of closed) this.onClosed(`closed ${count} connections from ${source} unread: beyond its rate`);
      }
    } finally {
      this.looking = false;
    }
  }
}
