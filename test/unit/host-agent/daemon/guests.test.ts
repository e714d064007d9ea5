import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttachmentRecord, GuestServer } from '@guestnet/host-agent';
import { type Configure, FramedConnection, GuestApplyError, GuestTimeoutError, type HostMessage, parseHostMessage } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';

// GuestServer's bookkeeping, against hand-driven guests on a unix socket in
// a temporary directory: no root, no netns.

const record = sampleRecord();

async function fakeGuest(socketPath: string, tokens: string[]): Promise<FramedConnection<HostMessage>> {
  const socket = connect(socketPath);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const connection = new FramedConnection<HostMessage>(socket, parseHostMessage);
  connection.send({ type: 'hello', version: 1, tokens, capabilities: ['resolv.conf'] });
  return connection;
}

function appliedFor(configure: Configure) {
  const { link, dns, token } = configure;
  return { type: 'applied', token, ok: true, changes: 3, state: { name: link.rename, mtu: link.mtu, address: link.address, prefixLength: link.prefixLength, gateway: link.gateway, dns } };
}

describe('daemon GuestServer bookkeeping', () => {
  let dir: string;
  let server: GuestServer;
  let known: AttachmentRecord[];
  let rejected: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guestnet-unit-'));
    known = [record];
    rejected = [];
    server = new GuestServer(join(dir, 'guest.sock'), (tokens) => known.find((r) => tokens.includes(r.token)), (reason) => rejected.push(reason));
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
    guest.send(appliedFor(configure as Configure));
    const confirmation = await confirmed;
    assert.equal(confirmation.state.name, 'wlan0');
    assert.equal(server.connected(record.token), true);
    assert.equal(server.lastApply(record.token)?.ok, true);
    guest.destroy();
  });

  it('a wait that starts after the guest connected re-sends the configuration', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor((await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    const confirmed = server.confirm(record, 5000);
    guest.send(appliedFor((await guest.receive(2000)) as Configure));
    assert.equal((await confirmed).changes, 3);
    guest.destroy();
  });

  it('a guest that failed before anyone waited fails the next wait at once', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    const configure = (await guest.receive(2000)) as Configure;
    guest.send({ type: 'applied', token: configure.token, ok: false, error: { code: 'commandFailed', message: 'RTNETLINK answers: File exists' } });
    await new Promise((r) => setTimeout(r, 100));
    await assert.rejects(server.confirm(record, 5000), (error: unknown) => error instanceof GuestApplyError && /File exists/.test(error.message));
    assert.equal(server.lastApply(record.token)?.ok, false);
    guest.destroy();
  });

  it('a wait that times out is dropped: a late confirmation finds no waiter and breaks nothing', async () => {
    await assert.rejects(server.confirm(record, 100), GuestTimeoutError);
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor((await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.lastApply(record.token)?.ok, true);
    guest.destroy();
  });

  it('refuses a guest whose links are not attached, telling it why', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [`guestnet:${'f'.repeat(32)}`]);
    const answer = await guest.receive(2000);
    assert.deepEqual(answer, { type: 'error', code: 'unknownLink', message: 'none of your links is attached here' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(rejected.length, 1);
    assert.equal(server.connected(`guestnet:${'f'.repeat(32)}`), false);
  });

  it('forget releases the guest and clears what it knew', async () => {
    const guest = await fakeGuest(join(dir, 'guest.sock'), [record.token]);
    guest.send(appliedFor((await guest.receive(2000)) as Configure));
    await new Promise((r) => setTimeout(r, 50));
    server.forget(record.token);
    assert.deepEqual(await guest.receive(2000), { type: 'release', token: record.token });
    assert.equal(server.connected(record.token), false);
    assert.equal(server.lastApply(record.token), undefined);
  });
});
