// Bounds on what requests can cost: a token bucket per guest link, and a cap
// on how many keys any map the server keeps may hold. Keys are guest links
// the lookup knows, so they are few; the cap is for a lookup that is wrong.

/** Keys a bounded map holds at most; the least recently used goes first. */
export const MAX_KEYS = 4096;

/** Sets `key` as the most recently used, dropping the least recently used key past `max`. */
export function touch<V>(map: Map<string, V>, key: string, value: V, max = MAX_KEYS): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
}

/**
 * `perSecond` requests a second per key, in bursts of `burst`. A real client
 * sends a handful of messages a minute; a burst covers a restart's DISCOVER,
 * REQUEST and a few retries.
 */
export class LinkRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  take(key: string, now: number): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    touch(this.buckets, key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets keys whose bucket has been full again for a while: they cost nothing to make anew. */
  sweep(now: number): void {
    const idleMs = (this.burst / this.perSecond) * 1000;
    for (const [key, bucket] of this.buckets) if (now - bucket.at > idleMs) this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}
