import assert from 'node:assert/strict';
import { GroupCommit } from '@guestnet/host-agent';

describe('group commit', () => {
  it('starts a request alone at once, and takes all that arrived during a run as the next group', async () => {
    const runs: number[][] = [];
    let release: () => void = () => {};
    const commit = new GroupCommit<number, number>(async (items) => {
      runs.push(items);
      if (runs.length === 1) await new Promise<void>((r) => (release = r));
      return items.map((i) => (i === 13 ? { status: 'rejected', reason: new Error('bad guest') } : { status: 'fulfilled', value: i * 2 }));
    });
    const first = commit.submit([1]);
    assert.deepEqual(runs, [[1]], 'the first started without waiting');
    const later = [commit.submit([2]), commit.submit([3, 13]), commit.submit([4])];
    release();
    assert.deepEqual(
      (await first).map((r) => r.status === 'fulfilled' && r.value),
      [2],
    );
    const [two, threeAndBad, four] = await Promise.all(later);
    assert.deepEqual(runs, [[1], [2, 3, 13, 4]]);
    assert.deepEqual(two?.[0], { status: 'fulfilled', value: 4 });
    assert.deepEqual(threeAndBad?.[0], { status: 'fulfilled', value: 6 });
    assert.equal(threeAndBad?.[1]?.status, 'rejected', 'one bad member fails alone');
    assert.deepEqual(four?.[0], { status: 'fulfilled', value: 8 });
  });

  it('fails every member of a run that throws, and goes on with the next group', async () => {
    let calls = 0;
    const commit = new GroupCommit<number, number>(async (items) => {
      calls++;
      if (calls === 1) throw new Error('the run broke');
      return items.map((value) => ({ status: 'fulfilled', value }));
    });
    const [broken] = await commit.submit([1]);
    assert.equal(broken?.status, 'rejected');
    assert.deepEqual(await commit.submit([5]), [{ status: 'fulfilled', value: 5 }]);
  });
});
