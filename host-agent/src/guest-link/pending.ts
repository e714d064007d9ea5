import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { UNTOLD_NETNS } from './peer-netns.js';

const MIN_SORT_GAP_MS = 100;

export interface PendingLimits {
  /** Connections waiting to say hello, from everyone together. */
  total: number;
  /** The same, from any one netns. */
  perSource: number;
}

/**
 * Connections that have not said hello yet, kept within limits so that one
 * guest's flood of silent connections cannot crowd out another guest's agent.
 * A real agent says hello at once, so the connections dropped are the ones
 * that waited longest: over the limit of one netns (looked up only once
 * there are more pending connections than one netns may hold), the oldest of
 * that netns; over the total, the oldest of the netns with the most.
 * Connections whose netns cannot be told count as one netns (UNTOLD_NETNS).
 */
export class PendingConnections {
  // Insertion order is age order.
  private readonly pending = new Map<Socket, { source?: string }>();
  private sorting = false;
  private sortAgain = false;
  private sortedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly limits: PendingLimits,
    private readonly onDropped: (reason: string) => void,
    /** The netns of each connection, where it can be told (PeerNetns.sourcesOf). */
    private readonly sourcesOf: (sockets: Socket[]) => Promise<Map<Socket, string>>,
    /** Hears the drops over the total, one per connection in a flood: apart, so that they do not drown out which netns floods. */
    private readonly onFull: (reason: string) => void = onDropped,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  add(socket: Socket): void {
    if (this.pending.size >= this.limits.total) {
      this.drop(this.victim());
      this.onFull('too many connections waiting to say hello: dropped the oldest of the busiest netns');
    }
    this.pending.set(socket, {});
    socket.once('close', () => this.pending.delete(socket));
    if (this.pending.size > this.limits.perSource) void this.sortBySource();
  }

  /** The connection said hello (or failed): it no longer counts. */
  settle(socket: Socket): void {
    this.pending.delete(socket);
  }

  /** The oldest connection of the netns with the most pending, or the oldest of all while none is known. */
  private victim(): Socket {
    const counts = new Map<string, number>();
    for (const { source } of this.pending.values()) if (source !== undefined) counts.set(source, (counts.get(source) ?? 0) + 1);
    const busiest = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    for (const [socket, { source }] of this.pending) if (busiest === undefined || source === busiest) return socket;
    throw new Error('no pending connection to drop');
  }

  private drop(socket: Socket): void {
    this.pending.delete(socket);
    socket.destroy();
  }

  /** One lookup at a time; arrivals during it are looked at by the next. */
  private async sortBySource(): Promise<void> {
    if (this.sorting) {
      this.sortAgain = true;
      return;
    }
    this.sorting = true;
    try {
      do {
        // A flood keeps asking: looks come at most this often, each covering all that arrived meanwhile.
        const wait = this.sortedAt + MIN_SORT_GAP_MS - Date.now();
        if (wait > 0) await sleep(wait);
        this.sortedAt = Date.now();
        this.sortAgain = false;
        const unknown = [...this.pending].filter(([, entry]) => entry.source === undefined).map(([socket]) => socket);
        const sources = await this.sourcesOf(unknown).catch(() => new Map<Socket, string>());
        // Connections whose netns the host cannot tell are held to one netns' share together.
        for (const socket of unknown) {
          const entry = this.pending.get(socket);
          if (entry) entry.source = sources.get(socket) ?? UNTOLD_NETNS;
        }
        this.enforcePerSource();
      } while (this.sortAgain && this.pending.size > this.limits.perSource);
    } finally {
      this.sorting = false;
    }
  }

  private enforcePerSource(): void {
    const bySource = new Map<string, Socket[]>();
    for (const [socket, { source }] of this.pending) {
      if (source !== undefined) bySource.set(source, [...(bySource.get(source) ?? []), socket]);
    }
    for (const [source, sockets] of bySource) {
      const excess = sockets.slice(0, Math.max(0, sockets.length - this.limits.perSource));
      for (const socket of excess) this.drop(socket);
      if (excess.length > 0) this.onDropped(`dropped ${excess.length} connections from ${source} that had not said hello`);
    }
  }
}
