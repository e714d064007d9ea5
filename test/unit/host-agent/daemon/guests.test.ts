import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Admission, type AttachmentRecord, GuestServer } from '@guestnet/host-agent';
import {
  type Configure,
  FramedConnection,
  GuestApplyError,
  GuestTimeoutError,
  type HostMessage,
  linkIdOf,
  parseHostMessage,
} from '@guestnet/protocol';
import { GuestAuth } from '../../../fixtures/guest-auth.js';
import { sampleRecord } from '../../../fixtures/records.js';

// GuestServer's bookkeeping, against hand-driven guests on a unix socket in
// a temporary directory: no root, no netns.

const record = sampleRecord();

type FakeGuest = FramedConnection<HostMessage> & { auth: GuestAuth };

/** Connects, says hello and answers the challenge when the host knows the link. */
async function fakeGuest(socketPath: string, tokens: string[]): Promise<FakeGuest> {
  const socket = connect(socketPath);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const connection = Object.assign(new FramedConnection<HostMessage>(socket, parseHostMessage), { auth: new GuestAuth(tokens) });
  connection.send(connection.auth.hello(['resolv.conf']));
  const first = await connection.next(2000);
  if (first?.type === 'challenge') connection.send(connection.auth.prove(first));
  else if (first) (connection as unknown as { pushBack: HostMessage }).pushBack = first;
  return connection;
}

const received = async (guest: FakeGuest): Promise<HostMessage> =>
  (guest as unknown as { pushBack?: HostMessage }).pushBack ?? guest.receive(2000);
const appliedFor = (guest: FakeGuest, configure: Configure) => guest.auth.applied(configure, {}, 3);

describe('daemon GuestServer bookkeeping', () => {
  let dir: string;
  let server: GuestServer;
  let known: AttachmentRecord[];
  let rejected: string[];
  let admission: Admission;
  let foreign: Array<{ id: string; validProof: boolean }>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guestnet-unit-'));
    known = [record];
    rejected = [];
    admission = 'own';
    foreign = [];
    server = new GuestServer(join(dir, 'guest.sock'), {
      lookup: (linkIds) => known.find((r) => linkIds.includes(linkIdOf(r.token))),
      attachments: () => known,
      onRejected: (reason) => rejected.push(reason),
      onForeign: (r, refusal) => foreign.push({ id: r.id, validProof: refusal.validProof }),
      // No netns here: each test says where its guests connect from.
      admission: { admit: async () => ({ admission, source: 'net:[1]' }), sourcesOf: async () => new Map() },
    });
    await server.start();
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a wait that starts before the guest connects is answered when it confirms', async () => {
    const confirmed = server.confirm(record, 5000);
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    const configure = await guest.receive(2000);
    assert.equal(configure.type, 'configure');
    guest.send(appliedFor(guest, configure as Configure));
    const confirmation = await confirmed;
    assert.equal(confirmation.state.name, 'wlan0');
    assert.equal(server.connected(record.id), true);
    assert.equal(server.lastApply(record.id)?.ok, true);
    guest.destroy();
  });

  it('a wait that starts after the guest confirmed the same configuration is answered at once, without asking again', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor(guest, (await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await server.confirm(record, 5000)).changes, 3);
    await assert.rejects(guest.receive(200), 'no second configure');
    guest.destroy();
  });

  it('a wait that starts while the guest applies the same configuration waits for that apply, sending nothing more', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    const configure = (await guest.receive(2000)) as Configure;
    const confirmed = server.confirm(record, 5000);
    guest.send(appliedFor(guest, configure));
    assert.equal((await confirmed).changes, 3);
    await assert.rejects(guest.receive(200), 'no second configure');
    guest.destroy();
  });

  it('a wait for a changed configuration (the uplink MTU followed) sends it again', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor(guest, (await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    const confirmed = server.confirm({ ...record, mtu: record.mtu - 100 }, 5000);
    const configure = (await guest.receive(2000)) as Configure;
    assert.equal(configure.link.mtu, record.mtu - 100);
    guest.send(appliedFor(guest, configure));
    assert.equal((await confirmed).changes, 3);
    guest.destroy();
  });

  it('a guest that failed before anyone waited fails the next wait at once', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    const configure = (await guest.receive(2000)) as Configure;
    guest.send(
      guest.auth.sign({
        type: 'applied',
        id: configure.id,
        seq: configure.seq,
        ok: false,
        error: { code: 'commandFailed', message: 'RTNETLINK answers: File exists' },
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    await assert.rejects(
      server.confirm(record, 5000),
      (error: unknown) => error instanceof GuestApplyError && /File exists/.test(error.message),
    );
    assert.equal(server.lastApply(record.id)?.ok, false);
    guest.destroy();
  });

  it('a wait that times out is dropped: a late confirmation finds no waiter and breaks nothing', async () => {
    await assert.rejects(server.confirm(record, 100), GuestTimeoutError);
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor(guest, (await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.lastApply(record.id)?.ok, true);
    guest.destroy();
  });

  it('refuses a guest whose links are not attached, telling it why', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [`guestnet:${'f'.repeat(32)}`]);
    const answer = await received(guest);
    assert.deepEqual(answer, { type: 'error', code: 'unknownLink', message: 'none of your links is attached here' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(rejected.length, 1);
    assert.equal(server.connected('200'), false);
  });

  it('forget releases the guest and clears what it knew', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor(guest, (await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    server.forget(record.id);
    const release = await guest.receive(2000);
    assert.equal(release.type, 'release');
    assert.deepEqual(
      guest.auth.sign({ type: 'release', id: (release as { id: string }).id, seq: (release as { seq: number }).seq }),
      release,
      'signed with the link key',
    );
    assert.equal(server.connected(record.id), false);
    assert.equal(server.lastApply(record.id), undefined);
  });

  it("refuses a session from another netns, even with a valid proof, and keeps the guest's own session", async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor(guest, (await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    admission = 'foreign';
    const thief = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    assert.deepEqual(await thief.receive(2000), {
      type: 'error',
      code: 'wrongNetns',
      message: 'this link is not attached to the netns you connect from',
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(foreign, [{ id: record.id, validProof: true }]);
    assert.equal(server.connected(record.id), true, "the guest's own session was evicted");
    admission = 'own';
    const confirmed = server.confirm({ ...record, mtu: 1400 }, 5000);
    const configure = (await guest.receive(2000)) as Configure;
    guest.send(appliedFor(guest, configure));
    assert.equal((await confirmed).changes, 3, 'the surviving session still serves the guest');
    guest.destroy();
    thief.destroy();
  });

  it('refuses a session beyond its netns budget before any proof, telling it to come back later', async () => {
    admission = 'busy';
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    assert.deepEqual(await received(guest), { type: 'error', code: 'busy', message: 'too many sessions from this netns; try again later' });
    assert.equal(server.connected(record.id), false);
    guest.destroy();
  });

  it('a new token for the same attachment is no new configuration: nothing is sent again', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor(guest, (await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    const rotated = { ...record, token: `guestnet:${'e'.repeat(32)}` };
    assert.equal(server.hasConfirmed(rotated), true);
    assert.equal((await server.confirm(rotated, 5000)).changes, 3);
    await assert.rejects(guest.receive(200), 'no second configure');
    guest.destroy();
  });
});
