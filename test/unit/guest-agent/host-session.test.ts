import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { follow, greet } from '@guestnet/guest-agent';
import { guestConfigOf } from '@guestnet/host-agent';
import {
  FramedConnection,
  type GuestMessage,
  type HostMessage,
  linkIdOf,
  linkKeyOf,
  newNonce,
  newOneTimeToken,
  parseGuestMessage,
  parseHostMessage,
  ProtocolError,
  proofOf,
  signed,
  verifies,
} from '@guestnet/protocol';
import { sampleRecord } from '../../fixtures/records.js';

// The guest's half of a session, against a hand-driven host on a unix
// socket: the guest offers link ids, never tokens; proves itself only to a
// host that proved first; applies only what is signed for its link, in
// order; and reports a failure signed, without its token.

type Keeper = Parameters<typeof greet>[3];
const seen = { links: [], dnsFile: undefined } as unknown as Parameters<typeof greet>[4];

/** A keeper that records what it is asked to apply, and fails with `failure` when given one. */
function fakeKeeper(failure?: string) {
  const applied: unknown[] = [];
  const released: string[] = [];
  const keeper = {
    takesDhcp: false,
    async apply(config: { link: Record<string, unknown>; dns: string[] }) {
      applied.push(config);
      if (failure !== undefined) throw new Error(failure);
      const { rename, mtu, address, prefixLength, gateway } = config.link;
      return { state: { name: rename, mtu, address, prefixLength, gateway, dns: config.dns }, changes: 1 };
    },
    currentToken: (token: string) => token,
    release: (token: string) => void released.push(token),
  };
  return { keeper: keeper as unknown as Keeper, applied, released };
}

describe("guest-agent/host-session: the guest's half of a session", () => {
  let dir: string;
  let server: Server;
  let host: Promise<FramedConnection<GuestMessage>>;
  let guest: FramedConnection<HostMessage>;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    const path = join(dir, 'guest.sock');
    host = new Promise((resolve) => {
      server = createServer((socket) => resolve(new FramedConnection<GuestMessage>(socket, parseGuestMessage)));
    });
    await new Promise<void>((resolve) => server.listen(path, () => resolve()));
    const socket = connect(path);
    await new Promise((resolve) => socket.once('connect', resolve));
    guest = new FramedConnection<HostMessage>(socket, parseHostMessage);
  });
  afterEach(async () => {
    guest.destroy();
    (await host).destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const token = newOneTimeToken();
  const record = sampleRecord({ token, guestIf: token.slice('guestnet:'.length) });
  const config = guestConfigOf(record);
  const id = linkIdOf(token);
  const key = linkKeyOf(token);

  /** The host's side up to its challenge: the hello read, and the nonces of the session. */
  async function challenged(proof?: string, link = id) {
    const connection = await host;
    const hello = (await connection.receive(2000)) as Extract<GuestMessage, { type: 'hello' }>;
    const nonces = { guest: hello.nonce, host: newNonce() };
    connection.send({ type: 'challenge', link, nonce: nonces.host, proof: proof ?? proofOf(key, 'host', nonces) });
    return { connection, hello, nonces };
  }
  const configure = (nonces: { guest: string; host: string }, seq: number, signKey = key) =>
    signed(signKey, nonces, { type: 'configure', id, seq, link: config.link, dns: config.dns });

  it('offers its links by id, never a token, nor the one-time name made of it', async () => {
    const greeting = greet(guest, [token], 'resolv.conf', fakeKeeper().keeper, seen).catch(() => undefined);
    const connection = await host;
    const hello = await connection.receive(2000);
    assert.deepEqual(hello.type === 'hello' ? hello.links : undefined, [id]);
    assert.ok(!JSON.stringify(hello).includes(token.slice('guestnet:'.length)));
    guest.destroy();
    await greeting;
  });

  it('proves nothing to a host that cannot prove it holds the token', async () => {
    const { keeper, applied } = fakeKeeper();
    const greeting = greet(guest, [token], 'resolv.conf', keeper, seen);
    const { connection } = await challenged('00'.repeat(32));
    await assert.rejects(greeting, (e: unknown) => e instanceof ProtocolError && /could not prove it holds our link token/.test(e.message));
    await assert.rejects(connection.receive(300), 'no proof was sent');
    assert.deepEqual(applied, []);
  });

  it('refuses a link the host picked that it did not offer', async () => {
    const greeting = greet(guest, [token], 'resolv.conf', fakeKeeper().keeper, seen);
    await challenged('00'.repeat(32), linkIdOf(`guestnet:${'c'.repeat(32)}`));
    await assert.rejects(greeting, /the host picked a link we did not offer/);
  });

  it('applies a configure signed for its link and answers it signed, with the same sequence number', async () => {
    const { keeper, applied } = fakeKeeper();
    const greeting = greet(guest, [token], 'resolv.conf', keeper, seen);
    const { connection, nonces } = await challenged();
    assert.equal((await connection.receive(2000)).type, 'prove');
    connection.send(configure(nonces, 1));
    const answer = await connection.receive(2000);
    assert.ok(answer.type === 'applied' && answer.ok && answer.seq === 1 && answer.id === id);
    assert.ok(verifies(key, nonces, answer), 'signed with the link key');
    assert.equal(applied.length, 1);
    assert.equal((await greeting).report.changes, 1);
  });

  it('applies nothing that is not signed with its link key', async () => {
    const { keeper, applied } = fakeKeeper();
    const greeting = greet(guest, [token], 'resolv.conf', keeper, seen);
    const { connection, nonces } = await challenged();
    await connection.receive(2000);
    connection.send(configure(nonces, 1, linkKeyOf(`guestnet:${'d'.repeat(32)}`)));
    await assert.rejects(greeting, /is not signed for our link; not applying it/);
    assert.deepEqual(applied, []);
  });

  it('reports a failed apply signed, bounded, and without its token or one-time name', async () => {
    const name = token.slice('guestnet:'.length);
    const { keeper } = fakeKeeper(`Cannot find device "${name}" ${'x'.repeat(300)}`);
    const greeting = greet(guest, [token], 'resolv.conf', keeper, seen);
    greeting.catch(() => {});
    const { connection, nonces } = await challenged();
    await connection.receive(2000);
    connection.send(configure(nonces, 1));
    const answer = await connection.receive(2000);
    assert.ok(answer.type === 'applied' && !answer.ok && verifies(key, nonces, answer));
    assert.ok(!JSON.stringify(answer).includes(name));
    assert.ok(answer.error.message.length <= 200);
    await assert.rejects(greeting);
  });

  it('follows: refuses a configure replayed with a sequence number already seen, and drops a released link', async () => {
    const { keeper, applied, released } = fakeKeeper();
    const greeting = greet(guest, [token], 'resolv.conf', keeper, seen);
    const { connection, nonces } = await challenged();
    await connection.receive(2000);
    connection.send(configure(nonces, 1));
    await connection.receive(2000);
    const { session } = await greeting;
    const following = follow(guest, session, keeper);
    connection.send(signed(key, nonces, { type: 'release', id, seq: 2 }));
    connection.send(configure(nonces, 2));
    await assert.rejects(following, (e: unknown) => e instanceof ProtocolError && /repeats sequence number 2/.test(e.message));
    assert.deepEqual(released, [token]);
    assert.equal(applied.length, 1, 'the replay was not applied');
  });

  it('follows: ends the session on a second challenge', async () => {
    const { keeper } = fakeKeeper();
    const greeting = greet(guest, [token], 'resolv.conf', keeper, seen);
    const { connection, nonces } = await challenged();
    await connection.receive(2000);
    connection.send(configure(nonces, 1));
    await connection.receive(2000);
    const following = follow(guest, (await greeting).session, keeper);
    connection.send({ type: 'challenge', link: id, nonce: newNonce(), proof: '00'.repeat(32) });
    await assert.rejects(following, /the host sent a second challenge/);
  });
});
