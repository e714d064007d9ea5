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
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(source, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private forgetFull(now: number): void {
    for (const [source, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(source);
    }
  }
}
