import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareLaunch } from '../../bench/launch.js';

describe("bench: a storm's launch", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-launch-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('runs every client as its own argv, with its input, and says how each ended as it ends', async () => {
    const launch = await prepareLaunch(dir, [
      { argv: ['sh', '-c', 'sleep 0.3; printf "%s|" "$@"', 'sh', "it's", 'a b', '$HOME', '"'] },
      { argv: ['cat'], input: '{"cniVersion":"1.0.0"}' },
      { argv: ['sh', '-c', 'echo failed; exit 3'] },
    ]);
    const ended: number[] = [];
    const results = await launch((index) => ended.push(index));
    assert.deepEqual(
      results.map((r) => [r.exitCode, r.stdout]),
      [
        [0, `it's|a b|$HOME|"|`],
        [0, '{"cniVersion":"1.0.0"}'],
        [3, 'failed\n'],
      ],
    );
    // The slow one last: each is told as it ends, not in order.
    assert.equal(ended.at(-1), 0);
    assert.deepEqual([...ended].sort(), [0, 1, 2]);
  });

  it('starts them all at once: each client waits until all three have started', async () => {
    // A bounded wait, never a time: run one after another, the first would wait for the others in vain.
    const waitForAll = `touch "$0"; i=0; while [ "$(ls ${dir}/started.* | wc -l)" -lt 3 ]; do i=$((i+1)); [ $i -lt 1000 ] || exit 1; sleep 0.01; done`;
    const launch = await prepareLaunch(
      dir,
      [0, 1, 2].map((i) => ({ argv: ['sh', '-c', waitForAll, join(dir, `started.${i}`)] })),
    );
    assert.deepEqual(
      (await launch()).map((r) => r.exitCode),
      [0, 0, 0],
    );
  });
});
