import assert from 'node:assert/strict';
import { isQuery, RateLimit, serverFailure } from '@guestnet/host-agent';
import { QUERY } from '../../../fixtures/dns-query.js';

describe('DNS forwarder: messages', () => {
  it('takes a standard query with one question', () => {
    assert.equal(isQuery(QUERY), true);
  });

  it('refuses answers, other opcodes, several questions, truncated names and oversized messages', () => {
    const changed = (at: number, value: number) => Buffer.from(QUERY).fill(value, at, at + 1);
    assert.equal(isQuery(changed(2, 0x81)), false, 'an answer');
    assert.equal(isQuery(changed(2, 0x28)), false, 'an UPDATE');
    assert.equal(isQuery(changed(5, 2)), false, 'two questions');
    assert.equal(isQuery(QUERY.subarray(0, 20)), false, 'a cut name');
    assert.equal(isQuery(changed(12, 200)), false, 'a label longer than 63');
    assert.equal(isQuery(Buffer.concat([QUERY, Buffer.alloc(5000)])), false, 'over 4096 bytes');
    assert.equal(isQuery(Buffer.alloc(5)), false, 'shorter than a header');
  });

  it('answers SERVFAIL with the question and the id, and no records', () => {
    const answer = serverFailure(QUERY);
    assert.equal(answer.readUInt16BE(0), 0xabcd);
    assert.equal(answer[2], 0x81);
    assert.equal((answer[3] as number) & 0x0f, 2);
    assert.deepEqual([answer.readUInt16BE(4), answer.readUInt16BE(6), answer.readUInt16BE(8), answer.readUInt16BE(10)], [1, 0, 0, 0]);
    assert.deepEqual(answer.subarray(12), QUERY.subarray(12));
  });

  it('limits each source to its rate, and refills it with time', () => {
    const limit = new RateLimit(10);
    const taken = Array.from({ length: 15 }, () => limit.take('a', 1000)).filter(Boolean).length;
    assert.equal(taken, 10);
    assert.equal(limit.take('b', 1000), true, 'another source has its own');
    assert.equal(limit.take('a', 1500), true, 'half a second later there are tokens again');
  });
});
