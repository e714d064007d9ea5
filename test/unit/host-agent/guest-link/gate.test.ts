import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { ConnectionGate } from '@guestnet/host-agent';

/** Stands in for a socket: the gate only asks whether it was closed. */
const fake = (source: string, destroyed = false) => ({ source, destroyed }) as unknown as Socket;
const sourceOf = (socket: Socket) => (socket as unknown as { source: string }).source;

describe('ConnectionGate', () => {
  it('lets calm connections through unlooked-at, then holds each netns to its own rate, closing the rest', async () => {
    const looked: number[] = [];
    const closed: string[] = [];
    const gate = new ConnectionGate(
      { calm: { burst: 2, perSecond: 0.001 }, perNetns: { burst: 3, perSecond: 0.001 }, maxNetns: 16 },
      async (sockets) => {
        looked.push(sockets.length);
        return new Map(sockets.filter((s) => sourceOf(s) !== 'untold').map((s) => [s, sourceOf(s)]));
      },
      (reason) => closed.push(reason),
    );
    const calm = await Promise.all([gate.pass(fake('net:[1]')), gate.pass(fake('net:[1]'))]);
    assert.deepEqual(calm, [true, true]);
    assert.deepEqual(looked, [], 'a calm connection costs no look');

    const flood = Array.from({ length: 10 }, () => gate.pass(fake('net:[1]')));
    const other = gate.pass(fake('net:[2]'));
    const gone = gate.pass(fake('net:[2]', true));
    const untold = Array.from({ length: 4 }, () => gate.pass(fake('untold')));
    assert.deepEqual(await Promise.all(flood), [true, true, true, false, false, false, false, false, false, false]);
    assert.equal(await other, true, "another netns' budget is its own");
    assert.equal(await gone, false, 'a connection closed meanwhile goes nowhere');
    assert.deepEqual(await Promise.all(untold), [true, true, true, false], 'connections of no known netns share one budget');
    assert.deepEqual(looked, [1, 15], 'the first is looked up at once, those held meanwhile together');
    assert.deepEqual(closed, [
      'closed 7 connections from net:[1] unread: beyond its rate',
      'closed 1 connections from an untold netns unread: beyond its rate',
    ]);
  });
});
