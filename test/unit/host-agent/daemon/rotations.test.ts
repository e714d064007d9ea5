import assert from 'node:assert/strict';
import { type AttachmentRecord, LeakResponse } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

// The daemon's answer to a token proved from another netns: the session was
// refused (guests.ts), and the guest's link gets a new token, one rotation
// per guest at a time, at most one in a while, and none under an attach that
// owns the record until it settles.

type Refusal = Parameters<LeakResponse['refused']>[1];
const proved = { validProof: true, source: 'net:[4026532999]' } as Refusal;
const guessed = { validProof: false, source: undefined } as Refusal;

/** A LeakResponse whose rotations are counted and settled by hand; its log lines kept; `changes` stands for the daemon's. */
function leaks(changes?: { idle: boolean; during<T>(work: () => Promise<T>): Promise<T> }) {
  const rotations: Array<{
    record: AttachmentRecord;
    confirmedName: string | undefined;
    settle: (to: AttachmentRecord | undefined | Error) => void;
  }> = [];
  const lines: Array<{ level: string; message: string; meta: Record<string, unknown> }> = [];
  const response = new LeakResponse(
    (record, confirmedName) =>
      new Promise((resolve, reject) =>
        rotations.push({ record, confirmedName, settle: (to) => (to instanceof Error ? reject(to) : resolve(to)) }),
      ),
    (level, message, meta) => lines.push({ level, message, meta }),
    changes,
  );
  return { response, rotations, lines };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('daemon/rotations: when a leaked token is rotated', () => {
  const record = sampleRecord();
  const rotated = sampleRecord({ token: `guestnet:${'b'.repeat(32)}` });

  it('rotates on a valid proof from elsewhere, and only logs a proof that failed', async () => {
    const { response, rotations, lines } = leaks();
    response.refused(record, guessed);
    assert.equal(rotations.length, 0, 'a wrong proof tells nothing of the token');
    assert.deepEqual(lines[0], {
      level: 'warn',
      message: 'refused a guest session from another netns',
      meta: { id: record.id, from: 'unknown', proof: 'invalid' },
    });
    response.refused(record, proved);
    assert.deepEqual(
      rotations.map((r) => r.record.id),
      [record.id],
    );
    rotations[0]?.settle(rotated);
    await settled();
    assert.ok(lines.some((l) => l.level === 'info' && /new token/.test(l.message) && l.meta.id === record.id));
  });

  it('runs one rotation per guest at a time, and none again soon after one that rotated', async () => {
    const { response, rotations } = leaks();
    const other = sampleRecord({ pid: 200 });
    response.refused(record, proved);
    response.refused(record, proved);
    response.refused(other, proved);
    assert.deepEqual(
      rotations.map((r) => r.record.id),
      [record.id, other.id],
      'a second leak while the first rotates waits for nothing: the rotation under way covers it',
    );
    rotations[0]?.settle(rotated);
    await settled();
    // A relay that passes the guest's own proof along reconnects at once: each reconnect must not cost a rotation.
    response.refused(rotated, proved);
    assert.equal(rotations.length, 2);
  });

  it('rotates again once the window after the last rotation has passed', async () => {
    const { response, rotations } = leaks();
    const realNow = Date.now;
    let now = realNow();
    Date.now = () => now;
    try {
      response.refused(record, proved);
      rotations[0]?.settle(rotated);
      await settled();
      now += 9_000;
      response.refused(rotated, proved);
      assert.equal(rotations.length, 1);
      now += 2_000;
      response.refused(rotated, proved);
      assert.equal(rotations.length, 2);
    } finally {
      Date.now = realNow;
    }
  });

  it('holds a rotation back while an attach owns the record, and runs it once that attach settles', async () => {
    const { response, rotations } = leaks();
    response.refused(record, proved);
    // The service rotates nothing while an attach waits for this guest.
    rotations[0]?.settle(undefined);
    await settled();
    response.settled(record.id, rotated);
    assert.deepEqual(
      rotations.map((r) => r.record),
      [record, rotated],
      'the rotation held back runs on the record the attach left',
    );
    rotations[1]?.settle(sampleRecord({ token: `guestnet:${'c'.repeat(32)}` }));
    await settled();
    response.settled(record.id, rotated);
    assert.equal(rotations.length, 2, 'an attach that settles with nothing held back rotates nothing');
  });

  it('drops a held-back rotation when the attach failed and left no record', async () => {
    const { response, rotations } = leaks();
    response.refused(record, proved);
    rotations[0]?.settle(undefined);
    await settled();
    response.settled(record.id, undefined);
    response.settled(record.id, rotated);
    assert.equal(rotations.length, 1);
  });

  it('logs a rotation that failed, and tries again on the next leak', async () => {
    const { response, rotations, lines } = leaks();
    response.refused(record, proved);
    rotations[0]?.settle(new Error('nft: busy'));
    await settled();
    assert.ok(lines.some((l) => l.level === 'error' && /could not give/.test(l.message) && l.meta.id === record.id));
    response.refused(record, proved);
    assert.equal(rotations.length, 2);
  });

  it('writes at most a line a second for a flood of refusals, counting what it left out', async () => {
    const { response, lines } = leaks();
    for (let i = 0; i < 50; i++) response.refused(sampleRecord({ pid: 300 + i }), guessed);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
  });
});

describe("daemon/rotations: a token that was its link's first name", () => {
  // A one-time name: the kernel logs it when the guest agent renames the link.
  const name = 'gnAbCdEfGhIjKlM';
  const firstNamed = sampleRecord({ token: `guestnet:${name}`, guestIf: name });
  const rotated = sampleRecord({ token: `guestnet:${'b'.repeat(32)}`, guestIf: name });
  const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

  it('is rotated once its guest is configured, after the reply, and logged as such', async () => {
    const { response, rotations, lines } = leaks();
    response.configured(firstNamed, 'wlan0');
    assert.equal(rotations.length, 0, "the rotation waits for the attach's reply to go out");
    await tick();
    assert.deepEqual(
      rotations.map((r) => [r.record, r.confirmedName]),
      [[firstNamed, 'wlan0']],
      'with the name its agent confirmed, which spares a look',
    );
    rotations[0]?.settle(rotated);
    await settled();
    assert.ok(lines.some((l) => l.level === 'info' && /kernel logged/.test(l.message) && l.meta.id === firstNamed.id));
  });

  it('waits for the attach that waits for the guest, and rotates once it settles', async () => {
    const { response, rotations } = leaks();
    response.configured({ ...firstNamed, awaitingGuest: true }, 'wlan0');
    await tick();
    assert.equal(rotations.length, 0, 'an attach that waits owns the record');
    response.settled(firstNamed.id, firstNamed, 'wlan0');
    await tick();
    assert.deepEqual(
      rotations.map((r) => [r.record, r.confirmedName]),
      [[firstNamed, 'wlan0']],
    );
  });

  it('leaves a token that is no first name, a failed attach and a detached guest alone', async () => {
    const { response, rotations } = leaks();
    response.configured(rotated, 'wlan0');
    response.configured(undefined, 'wlan0');
    response.settled(firstNamed.id, undefined);
    response.settled(rotated.id, rotated);
    await tick();
    assert.equal(rotations.length, 0);
  });

  it('waits while attaches are under way, rotating the guests together, and at most a while', async () => {
    const changes = { idle: false, during: <T>(work: () => Promise<T>) => work() };
    const { response, rotations } = leaks(changes);
    const other = sampleRecord({ pid: 200, token: 'guestnet:gnZyXwVuTsRqPoN', guestIf: 'gnZyXwVuTsRqPoN' });
    response.configured(firstNamed, 'wlan0');
    await tick(120);
    response.configured(other, 'wlan0');
    await tick(120);
    assert.equal(rotations.length, 0, 'a farm that boots goes first');
    changes.idle = true;
    await tick(120);
    assert.deepEqual(
      rotations.map((r) => r.record.id),
      [firstNamed.id, other.id],
    );

    const realNow = Date.now;
    let now = realNow();
    Date.now = () => now;
    try {
      changes.idle = false;
      response.configured(sampleRecord({ pid: 300, token: `guestnet:${name}`, guestIf: name }), 'wlan0');
      await tick(120);
      assert.equal(rotations.length, 2);
      now += 2_001;
      await tick(120);
      assert.equal(rotations.length, 3, 'a daemon that is never idle rotates all the same');
    } finally {
      Date.now = realNow;
    }
  });

  it('is rotated even soon after a rotation for a leak, and not twice at a time', async () => {
    const { response, rotations } = leaks();
    response.refused(rotated, proved);
    rotations[0]?.settle(firstNamed);
    await settled();
    response.configured(firstNamed, 'wlan0');
    response.configured(firstNamed, 'wlan0');
    await tick();
    assert.equal(rotations.length, 2, 'the window between rotations is for relays, not for a name the kernel logged');
  });

  it('names no link for a guest that confirmed nothing (an attach that did not wait), nor for a leak', async () => {
    const { response, rotations } = leaks();
    response.settled(firstNamed.id, firstNamed);
    await tick();
    response.refused(sampleRecord({ pid: 400 }), proved);
    assert.deepEqual(
      rotations.map((r) => r.confirmedName),
      [undefined, undefined],
    );
  });

  it('tries a first name whose rotation failed once more, then no more until its guest is attached again', async () => {
    const { response, rotations, lines } = leaks();
    for (let attempt = 0; attempt < 2; attempt++) {
      response.configured(firstNamed, 'wlan0');
      await tick();
      rotations[attempt]?.settle(new Error('ip: Unterminated quoted string'));
      await settled();
    }
    assert.equal(rotations.length, 2, 'a failure may be passing (a deadline met): one more try');
    assert.ok(lines.some((l) => l.level === 'error' && /could not give/.test(l.message)));
    for (let i = 0; i < 5; i++) response.configured(firstNamed, 'wlan0');
    await tick();
    assert.equal(rotations.length, 2, "each of the guest's sessions would otherwise buy a rotation under the state lock");
  });

  it('opens no window in which a token proved from elsewhere is not rotated', async () => {
    const { response, rotations } = leaks();
    response.configured(firstNamed, 'wlan0');
    await tick();
    rotations[0]?.settle(rotated);
    await settled();
    response.refused(rotated, proved);
    assert.equal(rotations.length, 2, 'a token stolen just after its first rotation is rotated again');
  });

  it('tries once for a guest that keeps its token out of every link, and says so once', async () => {
    const { response, rotations, lines } = leaks();
    response.configured(firstNamed, 'wlan0');
    await tick();
    rotations[0]?.settle(undefined);
    await settled();
    for (let i = 0; i < 5; i++) response.configured(firstNamed, 'wlan0');
    await tick();
    assert.equal(rotations.length, 1, 'its sessions buy no retries');
    assert.equal(lines.filter((l) => l.level === 'warn' && /no link carrying its token/.test(l.message)).length, 1);
    response.configured({ ...rotated, token: 'guestnet:gnNewNameAfterR', guestIf: 'gnNewNameAfterR' }, 'wlan0');
    await tick();
    assert.equal(rotations.length, 2, 'a re-attach with a new first name is tried again');
  });

  it('drops rotations not yet started when the daemon stops', async () => {
    const { response, rotations } = leaks();
    response.configured(firstNamed, 'wlan0');
    response.close();
    await tick(20);
    assert.equal(rotations.length, 0);
  });
});
