/**
 * Token buckets, one per source (a netns): `burst` at once, then `perSecond`.
 * A guest that spends faster is refused until it has earned more; a quiet
 * source's full bucket is forgotten, so the map holds only the busy ones.
 */
export class SourceBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {}

  take(source: string, now = Date.now()): boolean {
    if (this.buckets.size > 1024) this.forgetFull(now);
    const bucket = this.buckets.get(source) ?? { tokens: this.burst, at: now };
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
    for (const [source, bucket] of this.buckets) {
      if (this.tokensOf(bucket, now) >= this.burst) this.buckets.delete(source);
    }
  }
}
