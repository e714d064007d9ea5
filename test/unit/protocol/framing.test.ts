import assert from 'node:assert/strict';
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES, ProtocolError } from '@guestnet/protocol';

describe('framing', () => {
  it('round-trips frames split at every byte boundary', () => {
    const bytes = Buffer.concat([encodeFrame({ type: 'a' }), encodeFrame({ type: 'b', n: 1 })]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new FrameDecoder();
      const frames = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      assert.deepEqual(frames, [{ type: 'a' }, { type: 'b', n: 1 }]);
      assert.equal(decoder.buffered, 0);
    }
  });

  it('refuses an oversized frame from its header, before buffering the body', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(50 * 1024 * 1024);
    assert.throws(() => new FrameDecoder().push(header), ProtocolError);
  });

  it('refuses empty frames and non-JSON bodies', () => {
    assert.throws(() => new FrameDecoder().push(Buffer.alloc(4)), /outside 1\.\./);
    const junk = Buffer.from('\0\0\0\x03{{{');
    assert.throws(() => new FrameDecoder().push(junk), /not valid JSON/);
  });

  it('keeps at most one frame of a stream that never ends a frame', () => {
    const decoder = new FrameDecoder();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME_BYTES);
    decoder.push(header);
    for (let i = 0; i < 100; i++) decoder.push(Buffer.alloc(100, 0x20));
    assert.ok(decoder.buffered <= MAX_FRAME_BYTES + 4);
  });

  it('will not send a frame over the limit', () => {
    assert.throws(() => encodeFrame({ pad: 'x'.repeat(MAX_FRAME_BYTES) }), ProtocolError);
  });
});
