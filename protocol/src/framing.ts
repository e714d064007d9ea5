import { ProtocolError } from './errors.js';

// A frame is a 4-byte big-endian length followed by that many bytes of UTF-8
// JSON. The length comes first so a reader can refuse an oversized frame
// before buffering it: memory per connection never exceeds MAX_FRAME_BYTES + 4.
// A literal (16 KiB), not an expression: a bundle whose code never frames leaves it, and this module, out.
export const MAX_FRAME_BYTES = 16_384;
const HEADER_BYTES = 4;

export function encodeFrame(message: unknown, maxBytes = MAX_FRAME_BYTES): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > maxBytes) {
    throw new ProtocolError(`refusing to send a ${body.length}-byte frame (limit ${maxBytes})`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/** Splits a byte stream into parsed JSON frames. Throws ProtocolError on the first bad frame. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** `maxBytes` above the guest limit is only for trusted, root-only channels. */
  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): unknown[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: unknown[] = [];
    while (this.pending.length >= HEADER_BYTES) {
      const length = this.pending.readUInt32BE(0);
      if (length === 0 || length > this.maxBytes) {
        throw new ProtocolError(`frame length ${length} is outside 1..${this.maxBytes}`);
      }
      if (this.pending.length < HEADER_BYTES + length) break;
      frames.push(parseBody(this.pending.subarray(HEADER_BYTES, HEADER_BYTES + length)));
      this.pending = this.pending.subarray(HEADER_BYTES + length);
    }
    return frames;
  }

  /** Bytes of an unfinished frame; non-zero at end of stream means it was truncated. */
  get buffered(): number {
    return this.pending.length;
  }
}

function parseBody(body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError('frame is not valid JSON');
  }
}
