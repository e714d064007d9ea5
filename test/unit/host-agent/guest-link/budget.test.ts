import assert from 'node:assert/strict';
import { Pacer, SourceBudget } from '@guestnet/host-agent';

describe('SourceBudget', () => {
  it('gives each source its burst, then its rate, and keeps sources apart', () => {
    const budget = new SourceBudget(3, 2);
    const taken = Array.from({ length: 5 }, () => budget.take('net:[1]', 1000));
    assert.deepEqual(taken, [true, true, true, false, false]);
    assert.equal(budget.take('net:[2]', 1000), true, "another source's budget is its own");
    assert.equal(budget.take('net:[1]', 1400), false, 'less than one earned');
    assert.equal(budget.take('net:[1]', 1500), true, 'one earned in half a second at 2 a second');
    assert.deepEqual(
      Array.from({ length: 4 }, () => budget.take('net:[1]', 60_000)),
      [true, true, true, false],
      'never more than the burst',
    );
  });
});

describe('SourceBudget, bounded', () => {
  it('forgets a full bucket at the next sweep, and past its limit the source heard from longest ago', () => {
    const budget = new SourceBudget(2, 1, 2);
    budget.take('net:[1]', 1000);
    budget.take('net:[2]', 1000);
    budget.take('net:[3]', 1000);
    assert.equal(budget.size, 2, 'never more sources than its limit');
    assert.equal(budget.has('net:[1]', 1000), true, 'the oldest was forgotten: a fresh bucket');
    assert.equal(budget.take('net:[3]', 1000), true);
    assert.equal(budget.take('net:[3]', 1000), false, 'a remembered bucket is spent');
    budget.take('net:[4]', 10_000);
    assert.equal(budget.size, 1, 'the buckets refilled meanwhile are forgotten');
  });
});

describe('Pacer', () => {
  it('lets a burst go at once, then spaces the rest in turn, and refuses what would wait too long', () => {
    const pacer = new Pacer(2, 4, 500);
    assert.deepEqual(
      Array.from({ length: 5 }, () => pacer.turn('link', 1000)),
      [0, 0, 250, 500, undefined],
    );
    assert.equal(pacer.turn('other', 1000), 0, "another key's turns are its own");
    assert.equal(pacer.turn('link', 10_000), 0, 'a quiet key starts afresh');
  });
});
