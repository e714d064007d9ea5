import assert from 'node:assert/strict';
import { Spares } from '@guestnet/host-agent';

describe('the spare processes a runner keeps', () => {
  const spawnedFor: string[] = [];
  const spares = () =>
    new Spares((command) => {
      spawnedFor.push(command);
      return ['sh', '-c', 'read line'];
    });

  it('keeps one process of each command, spawned ahead, and the same one each time it is asked for', () => {
    const kept = spares();
    try {
      kept.keep('ip-batch');
      const first = kept.of('ip-batch');
      assert.ok(first?.waitingPid !== undefined);
      assert.equal(kept.of('ip-batch'), first);
      assert.deepEqual(spawnedFor, ['ip-batch']);
      assert.notEqual(kept.of('nft'), first, 'another command has its own');
    } finally {
      kept.close();
    }
  });

  it('closed, kills what waits and hands out nothing more', () => {
    const kept = spares();
    kept.keep('nft');
    const waiting = kept.of('nft');
    kept.close();
    assert.equal(waiting?.waitingPid, undefined);
    assert.equal(kept.of('nft'), undefined);
  });
});
