import assert from 'node:assert/strict';
import { limitedWarning, rateLimited } from '@guestnet/host-agent';

describe('rate-limited warnings', () => {
  it('writes the first of a burst and counts the rest into the next one written', () => {
    const realNow = Date.now;
    let now = 1_000_000;
    Date.now = () => now;
    try {
      const written: Array<[string, number]> = [];
      const warn = rateLimited((reason, suppressed) => written.push([reason, suppressed]));
      warn('a');
      now += 999;
      warn('b');
      warn('c');
      now += 1;
      warn('d');
      now += 5000;
      warn('e');
      assert.deepEqual(written, [
        ['a', 0],
        ['d', 2],
        ['e', 0],
      ]);
    } finally {
      Date.now = realNow;
    }
  });

  it('with a longer pace, writes lines twice as far apart while a flood goes on, and starts over after a quiet line', () => {
    const realNow = Date.now;
    let now = 1_000_000;
    Date.now = () => now;
    try {
      const written: number[] = [];
      const warn = rateLimited(() => written.push(now - 1_000_000), { gapMs: 1000, maxGapMs: 4000 });
      for (; now < 1_020_000; now += 100) warn('flood');
      assert.deepEqual(written, [0, 1000, 3000, 7000, 11_000, 15_000, 19_000]);
      now += 60_000;
      warn('again');
      now += 1000;
      warn('again');
      assert.deepEqual(written.slice(-2), [80_000, 81_000], 'after a quiet gap, lines start over at the shortest gap');
    } finally {
      Date.now = realNow;
    }
  });

  it('logs a warning with its reason, and the count of those left out only when there are some', () => {
    const logged: unknown[] = [];
    const warn = limitedWarning((level, message, meta) => logged.push([level, message, meta]), 'guest flood');
    warn('too many');
    warn('too many again');
    assert.deepEqual(logged, [['warn', 'guest flood', { reason: 'too many' }]]);
  });
});
