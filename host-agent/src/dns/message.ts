// Just enough of the DNS wire format (RFC 1035 section 4) to forward a query
// without trusting it: the header, and where the question ends.

/** A query a guest may send over UDP, EDNS included; anything longer is not DNS a guest needs. */
export const MAX_QUERY_BYTES = 4096;
const HEADER_BYTES = 12;

/** Where the first question ends, or undefined when the message does not hold one. */
function questionEnd(message: Buffer): number | undefined {
  let at = HEADER_BYTES;
  for (let labels = 0; labels < 128; labels++) {
    const length = message[at];
    if (length === undefined || length > 63) return undefined;
    at += 1 + length;
    if (length === 0) return at + 4 <= message.length ? at + 4 : undefined;
  }
  return undefined;
}

/** A standard query (QR 0, opcode QUERY) with exactly one question, of a sane size. */
export function isQuery(message: Buffer): boolean {
  if (message.length < HEADER_BYTES || message.length > MAX_QUERY_BYTES) return false;
  const flags = message[2] as number;
  const isResponse = (flags & 0x80) !== 0;
  const opcode = (flags >> 3) & 0x0f;
  return !isResponse && opcode === 0 && message.readUInt16BE(4) === 1 && questionEnd(message) !== undefined;
}

export function isResponse(message: Buffer): boolean {
  return message.length >= HEADER_BYTES && ((message[2] as number) & 0x80) !== 0;
}

export const idOf = (message: Buffer): number => message.readUInt16BE(0);

/** A copy of `message` carrying `id`. */
export function withId(message: Buffer, id: number): Buffer {
  const copy = Buffer.from(message);
  copy.writeUInt16BE(id, 0);
  return copy;
}

/** SERVFAIL for `query`: its header and question, no records. */
export function serverFailure(query: Buffer): Buffer {
  const end = questionEnd(query) ?? HEADER_BYTES;
  const answer = Buffer.from(query.subarray(0, end));
  answer[2] = ((query[2] as number) & 0x01) | 0x80; // QR, and RD as asked
  answer[3] = 0x80 | 2; // RA, RCODE SERVFAIL
  answer.writeUInt16BE(end > HEADER_BYTES ? 1 : 0, 4);
  answer.fill(0, 6, HEADER_BYTES);
  return answer;
}

/**
 * Per-source token buckets: `rate` queries a second, in bursts of as many.
 * A source that is quiet for a while is forgotten, so the map is bounded by
 * the sources active in the last few seconds.
 */
export class RateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly rate: number) {}

  take(source: string, now = Date.now()): boolean {
    if (this.buckets.size > 4096) this.forgetIdle(now);
    const bucket = this.buckets.get(source) ?? { tokens: this.rate, at: now };
    bucket.tokens = Math.min(this.rate, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    this.buckets.set(source, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private forgetIdle(now: number): void {
    for (const [source, bucket] of this.buckets) if (now - bucket.at > 5000) this.buckets.delete(source);
  }
}
