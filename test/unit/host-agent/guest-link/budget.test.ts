import assert from 'node:assert/strict';
import { SourceBudget } from '@guestnet/host-agent';

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
