import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestSession, SessionAuth } from '@guestnet/host-agent';
import {
  encodeFrame,
  FramedConnection,
  type GuestConfig,
  type GuestMessage,
  type HostMessage,
  linkIdOf,
  linkKeyOf,
  newNonce,
  PeerClosedError,
  ProtocolError,
  parseGuestMessage,
  parseHostMessage,
} from '@guestnet/protocol';
import { GuestAuth } from '../../../fixtures/guest-auth.js';

// The daemon's side of a connected guest agent, against a hand-driven guest
// on a unix socket: one reader takes every frame; pings are answered, an
// applied goes to the exchange that waits for it, and anything else (a
// frame out of turn, a hostile one) ends the session with a reason.

const token = `guestnet:${'a'.repeat(32)}`;
const config: GuestConfig = {
  token,
  link: { rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' },
  dns: ['172.17.3.2'],
};
type Configure = Extract<HostMessage, { type: 'configure' }>;

describe('daemon/session: one connected guest agent', () => {
  let dir: string;
  let server: Server;
  let session: GuestSession;
  /** The guest's end: framed, its raw socket, and its half of the session's keys. */
  let guest: FramedConnection<HostMessage>;
  let raw: Socket;
  let auth: GuestAuth;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    const path = join(dir, 'guest.sock');
    const accepted = new Promise<Socket>((resolve) => {
      server = createServer(resolve);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    raw = connect(path);
    await new Promise((resolve) => raw.once('connect', resolve));
    guest = new FramedConnection<HostMessage>(raw, parseHostMessage);
    // The session's keys, as authenticate() leaves them after the guest proved itself.
    auth = new GuestAuth([token]);
    const host = newNonce();
    auth.prove({ link: linkIdOf(token), nonce: host });
    const sessionAuth = new SessionAuth(linkIdOf(token), linkKeyOf(token), { guest: auth.nonce, host });
    session = new GuestSession(new FramedConnection<GuestMessage>(await accepted, parseGuestMessage), sessionAuth, ['resolv.conf']);
  });
  afterEach(async () => {
    session.close();
    guest.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const nextFrame = async () => guest.receive(5000);
  const configureFrame = async () => {
    const frame = await nextFrame();
    assert.equal(frame.type, 'configure');
    return frame as Configure;
  };

  it('answers each ping at once with a pong of its number', async () => {
    for (const seq of [1, 2, 7]) {
      guest.send({ type: 'ping', seq });
      assert.deepEqual(await nextFrame(), { type: 'pong', seq });
    }
  });

  it('configures the guest with a signed configure, answering its pings while it applies, and resolves to what it applied', async () => {
    const confirmed = session.configure(config);
    const configure = await configureFrame();
    assert.deepEqual([configure.id, configure.seq, configure.link, configure.dns], [linkIdOf(token), 1, config.link, config.dns]);
    guest.send({ type: 'ping', seq: 3 });
    assert.deepEqual(await nextFrame(), { type: 'pong', seq: 3 });
    guest.send(auth.applied(configure, {}, 2));
    const { state, changes } = await confirmed;
    assert.deepEqual([state.address, changes], ['172.17.3.3', 2]);
  });

  it('runs exchanges one after another: the second configure goes out once the first is answered', async () => {
    const first = session.configure(config);
    const second = session.configure({ ...config, link: { ...config.link, mtu: 1400 } });
    const one = await configureFrame();
    // Were the second sent at once, it would come before this pong.
    guest.send({ type: 'ping', seq: 1 });
    assert.deepEqual(await nextFrame(), { type: 'pong', seq: 1 });
    guest.send(auth.applied(one));
    const two = await configureFrame();
    assert.deepEqual([one.seq, two.seq, two.link.mtu], [1, 2, 1400]);
    guest.send(auth.applied(two));
    await Promise.all([first, second]);
  });

  it('fails an exchange on an applied out of order or unsigned, and serves on', async () => {
    const stale = session.configure(config);
    const configure = await configureFrame();
    guest.send(auth.applied({ ...configure, seq: configure.seq + 1 }));
    await assert.rejects(stale, /expected applied for our link/);
    const forged = session.configure(config);
    const again = await configureFrame();
    guest.send({ ...auth.applied(again), mac: 'f'.repeat(64) });
    await assert.rejects(forged, /not signed with its link key/);
    guest.send({ type: 'ping', seq: 9 });
    assert.deepEqual(await nextFrame(), { type: 'pong', seq: 9 });
  });

  it('ends the session on an applied that no exchange waits for, telling the guest why', async () => {
    // A well-formed, signed applied: a replay of an old one, or one sent ahead of any configure.
    guest.send(auth.applied({ seq: 1, link: config.link, dns: config.dns }));
    assert.equal(await session.ended, 'unexpected applied from the guest');
    const last = await nextFrame();
    assert.deepEqual(last, { type: 'error', code: 'guestProtocol', message: 'unexpected applied from the guest' });
  });

  it('ends the session on a second hello, failing the exchange under way', async () => {
    const pending = session.configure(config);
    await configureFrame();
    guest.send(auth.hello());
    await assert.rejects(pending, (error: unknown) => error instanceof ProtocolError && /unexpected hello/.test(error.message));
    assert.equal(await session.ended, 'unexpected hello from the guest');
  });

  it('ends the session on a frame that is no guest message, telling the guest why', async () => {
    raw.write(encodeFrame({ type: 'configure', seq: 1 }));
    const why = await session.ended;
    assert.ok(why);
    const last = await nextFrame();
    assert.deepEqual([last.type, 'message' in last && last.message], ['error', why]);
  });

  it('ends the session on a frame whose body is not JSON', async () => {
    const body = Buffer.from('{"type":"ping",');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    raw.write(Buffer.concat([length, body]));
    assert.ok(await session.ended);
  });

  it('ends quietly when the guest hangs up, failing the exchange under way as a hang-up', async () => {
    const pending = session.configure(config);
    await configureFrame();
    raw.end();
    await assert.rejects(pending, (error: unknown) => error instanceof PeerClosedError);
    assert.equal(await session.ended, undefined, 'a hang-up is no misbehaviour');
  });

  it('tells the guest its attachment is gone with a signed release, then closes', async () => {
    session.release();
    const release = await nextFrame();
    assert.deepEqual([release.type, 'id' in release && release.id], ['release', linkIdOf(token)]);
    await assert.rejects(guest.receive(5000), (error: unknown) => error instanceof PeerClosedError);
    assert.equal(await session.ended, undefined);
  });
});
