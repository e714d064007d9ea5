import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { GuestAdmission, type PeerNetns } from '@guestnet/host-agent';

// Where each connection comes from is given here: the budgets are what is tested.

const LOOKS = { looks: { burst: 100, perSecond: 100, maxWaitMs: 1000 } };
const VICTIM = 'net:[100]';
const ATTACKER = 'net:[200]';
const from = (netns: string) => ({ netns }) as unknown as Socket;
const peers = {
  isFrom: async (socket: Socket, expected: { netns: string }) =>
    (socket as unknown as { netns: string }).netns === expected.netns ? 'yes' : 'no',
  sourcesOf: async (sockets: Socket[]) => new Map(sockets.map((s) => [s, (s as unknown as { netns: string }).netns])),
} as unknown as PeerNetns;

describe('GuestAdmission', () => {
  it("sessions on a guest's link from another netns never spend that guest's budget", async () => {
    const limits = { ...LOOKS, sessions: { burst: 2, perSecond: 0 }, foreign: { burst: 3, perSecond: 0 }, busyAnswerMs: 0 };
    const admission = new GuestAdmission(limits, peers);
    const victim = { netns: VICTIM, pid: 1 };
    const attempts = [];
    for (let i = 0; i < 10; i++) attempts.push((await admission.admit(from(ATTACKER), victim)).admission);
    assert.deepEqual(attempts, ['foreign', 'foreign', 'foreign', ...Array(7).fill('drop')]);
    assert.deepEqual(await admission.admit(from(ATTACKER), victim), { admission: 'drop', source: undefined });
    const own = [];
    for (let i = 0; i < 3; i++) own.push((await admission.admit(from(VICTIM), victim)).admission);
    assert.deepEqual(own, ['own', 'own', 'busy'], 'the guest keeps its whole budget, and no more');
  });

  it('answers a guest beyond its budget from the budget alone, after a wait', async () => {
    let looks = 0;
    const counting = {
      ...peers,
      isFrom: async (...args: Parameters<PeerNetns['isFrom']>) => {
        looks++;
        return peers.isFrom(...args);
      },
    } as PeerNetns;
    const admission = new GuestAdmission(
      { ...LOOKS, sessions: { burst: 1, perSecond: 0 }, foreign: { burst: 1, perSecond: 0 }, busyAnswerMs: 30 },
      counting,
    );
    const victim = { netns: VICTIM, pid: 1 };
    assert.equal((await admission.admit(from(VICTIM), victim)).admission, 'own');
    const busy = await admission.admit(from(VICTIM), victim);
    assert.equal(busy.admission, 'busy');
    assert.equal(looks, 1, 'no look at any table for it');
    assert.equal(typeof busy.answerWhen, 'function', 'its answer waits');
  });

  it("a flood naming a guest's link waits its turn for a look at that guest's table; the guest's own turn comes", async () => {
    const limits = {
      looks: { burst: 2, perSecond: 1, maxWaitMs: 1500 },
      sessions: { burst: 100, perSecond: 0 },
      foreign: { burst: 100, perSecond: 0 },
      busyAnswerMs: 0,
    };
    const admission = new GuestAdmission(limits, peers);
    const victim = { netns: VICTIM, pid: 1 };
    const flood = await Promise.all(Array.from({ length: 4 }, () => admission.admit(from(ATTACKER), victim)));
    assert.deepEqual(
      flood.map((a) => a.admission),
      ['foreign', 'foreign', 'foreign', 'busy'],
      'two at once, one more within the longest wait, the rest refused',
    );
  });
});
