/**
 * Token buckets, one per source (a netns): `burst` at once, then `perSecond`.
 * A guest that spends faster is refused until it has earned more. The map
 * holds only the busy sources, and at most `maxSources`: a full bucket is
 * forgotten at the next sweep (at most one a second), and past the limit the
 * source heard from longest ago goes first.
 */
export class SourceBudget {
  /** In the order they were last heard from, oldest first. */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private sweptAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly maxSources = 1024,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  take(source: string, now = Date.now()): boolean {
    if (this.buckets.size >= this.maxSources || now - this.sweptAt >= 1000) this.forgetFull(now);
    const bucket = this.buckets.get(source) ?? { tokens: this.burst, at: now };
    this.buckets.delete(source);
    if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value as string);
    bucket.tokens = this.tokensOf(bucket, now);
    bucket.at = now;
    this.buckets.set(source, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Whether `source` could take one now, taking nothing. */
  has(source: string, now = Date.now()): boolean {
    const bucket = this.buckets.get(source);
    return bucket === undefined || this.tokensOf(bucket, now) >= 1;
  }

  private tokensOf(bucket: { tokens: number; at: number }, now: number): number {
    return Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
  }

  private forgetFull(now: number): void {
    this.sweptAt = now;
    for (const [source, bucket] of this.buckets) {
      if (this.tokensOf(bucket, now) >= this.burst) this.buckets.delete(source);
    }
  }
}

/**
 * Paces what is done for each key: `burst` at once, then `perSecond`, in
 * turn. What comes faster waits for its turn, up to `maxWaitMs`; beyond that
 * it is refused. Unlike a budget, nobody is turned away for being second.
 */
export class Pacer {
  /** When each key's next turn is, as if it came evenly (GCRA's theoretical arrival time). */
  private readonly due = new Map<string, number>();
  private readonly interval: number;
  private readonly tolerance: number;

  constructor(
    burst: number,
    perSecond: number,
    private readonly maxWaitMs: number,
  ) {
    this.interval = 1000 / perSecond;
    this.tolerance = (burst - 1) * this.interval;
  }

  /** How long to wait for this turn (0: go now), or undefined: too long, refused. */
  turn(key: string, now = Date.now()): number | undefined {
    if (this.due.size > 1024) for (const [k, due] of this.due) if (due < now) this.due.delete(k);
    const due = Math.max(this.due.get(key) ?? now, now);
    const wait = Math.max(0, due - this.tolerance - now);
    if (wait > this.maxWaitMs) return undefined;
    this.due.set(key, due + this.interval);
    return wait;
  }
}
