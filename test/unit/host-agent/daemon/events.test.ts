import assert from 'node:assert/strict';
import { AgentError } from '@guestnet/protocol';
import { loggedRequests, logReconciled, logUndoFailed } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

type Line = [string, string, Record<string, unknown>];

function recorder(): {
  lines: Line[];
  log: (level: 'error' | 'warn' | 'info' | 'debug', message: string, meta?: Record<string, unknown>) => void;
} {
  const lines: Line[] = [];
  return { lines, log: (level, message, meta = {}) => lines.push([level, message, meta]) };
}

describe('the daemon log: one line per event', () => {
  const signal = new AbortController().signal;

  it('a request that changes something: which guest, what changed and how long it took; status is not logged', async () => {
    const { lines, log } = recorder();
    const handle = loggedRequests(log, async (request) =>
      request.type === 'detach' ? { pid: 42, wasAttached: true, steps: [{ op: 'delete vm_wlan', ms: 3 }] } : { guests: [] },
    );
    await handle({ type: 'status' }, signal);
    await handle({ type: 'detach', pid: 42 }, signal);
    assert.equal(lines.length, 0, 'written after the reply, which the caller waits for');
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 1);
    const [level, message, meta] = lines[0] as Line;
    assert.deepEqual([level, message, meta.guest, meta.changes], ['info', 'detached', 'pid 42', 1]);
    assert.equal(typeof meta.ms, 'number');
  });

  it('a request that failed: a warning with its error, and the error still reaches the caller', async () => {
    const { lines, log } = recorder();
    const failure = new AgentError('guestTimeout', 'the guest agent did not confirm within 500 ms');
    const handle = loggedRequests(log, async () => {
      throw failure;
    });
    await assert.rejects(handle({ type: 'attach', pid: 7, settings: {}, wait: true }, signal), failure);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      lines.map(([level, message, meta]) => [level, message, meta.guest, meta.error]),
      [['warn', 'attach failed for', 'pid 7', failure]],
    );
  });

  it('an uplink change: one line per move, naming the guests that moved', () => {
    const { lines, log } = recorder();
    const a = sampleRecord({ id: '1', pid: 1, token: 'a', uplink: 'wlan0' });
    const b = sampleRecord({ id: '2', pid: 2, token: 'b', uplink: 'wlan0' });
    const before = new Map([
      ['a', a],
      ['b', b],
    ]);
    const after = new Map([
      ['a', { ...a, uplink: 'rmnet0' }],
      ['b', { ...b, uplink: 'rmnet0' }],
    ]);
    logReconciled(log, [{ op: 'move 2 guest(s) to uplink rmnet0', ms: 12.4 }], before, after);
    assert.deepEqual(lines, [
      ['info', 'reconciled the host', { ms: 12, steps: ['move 2 guest(s) to uplink rmnet0'] }],
      ['info', 'moved guests to another uplink', { ms: 12, family: 'ipv4', from: 'wlan0', to: 'rmnet0', guests: 'pid 1, pid 2' }],
    ]);
  });

  it('logs a removal that failed again once per guest and error, not every pass it is tried again', () => {
    const { lines, log } = recorder();
    const undoFailed = logUndoFailed(log);
    const [a, b] = [sampleRecord({ pid: 4101 }), sampleRecord({ pid: 4102, hostIf: 'vm_wlan1' })];
    for (let pass = 0; pass < 5; pass++) undoFailed(a, new Error('ip link del timed out'));
    undoFailed(b, new Error('ip link del timed out'));
    undoFailed(a, new Error('nft timed out'));
    assert.deepEqual(
      lines.map(([level, , meta]) => [level, meta.guest]),
      [
        ['warn', 'pid 4101'],
        ['warn', 'pid 4102'],
        ['warn', 'pid 4101'],
      ],
    );
  });
});
