import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureGuest, listenExclusively } from '@guestnet/host-agent';
import { AgentError, type Configure, GuestTimeoutError } from '@guestnet/protocol';
import { helloFrom } from '../../../fixtures/guest-auth.js';
import { sampleRecord } from '../../../fixtures/records.js';

// The one-shot wait for a guest agent, without a daemon: only the agent that
// proves its token from the guest's netns is configured; other connections
// cannot fail the wait; a timeout or an interrupt fails it in one line; the
// socket goes with the wait, and only while it is ours. The guest here is
// this test's own process, its netns the guest's.

describe('guest-link/one-shot: waiting for the guest agent without a daemon', () => {
  let dir: string;
  let socketPath: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    socketPath = join(dir, 'run', 'guest.sock');
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));
  const guestHere = async () =>
    sampleRecord({ pid: process.pid, netnsPath: '/proc/self/ns/net', netns: `net:[${(await stat('/proc/self/ns/net')).ino}]` });
  const listening = async () => {
    for (let i = 0; i < 200 && !existsSync(socketPath); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it('configures the agent that proves its token, returns what it applied, and removes the socket', async () => {
    const record = await guestHere();
    const wait = configureGuest(socketPath, record, 10_000, new AbortController().signal);
    await listening();
    const guest = await helloFrom(socketPath, [record.token]);
    assert.equal(guest.first?.type, 'configure');
    guest.connection.send(guest.auth.applied(guest.first as Configure, {}, 2));
    const confirmation = await wait;
    assert.equal(confirmation.state.name, record.guestName);
    assert.equal(existsSync(socketPath), false);
    guest.connection.destroy();
  });

  it("tells another guest's agent and a stranger why, and goes on waiting for its own", async () => {
    const record = await guestHere();
    const events: object[] = [];
    const wait = configureGuest(socketPath, record, 10_000, new AbortController().signal, (e) => events.push(e));
    await listening();
    const other = await helloFrom(socketPath, [sampleRecord({ token: `guestnet:${'b'.repeat(32)}` }).token]);
    assert.notEqual(other.first?.type, 'configure');
    const stranger = connect(socketPath);
    stranger.end('not a frame at all\n');
    const guest = await helloFrom(socketPath, [record.token]);
    guest.connection.send(guest.auth.applied(guest.first as Configure));
    await wait;
    assert.ok(
      events.some((e) => 'unknownGuest' in e && e.unknownGuest === true),
      JSON.stringify(events),
    );
    guest.connection.destroy();
    other.connection.destroy();
  });

  it('fails in one line when no agent confirms in time, saying the host side was rolled back, and leaves no socket', async () => {
    await assert.rejects(
      configureGuest(socketPath, await guestHere(), 200, new AbortController().signal),
      (e: unknown) => e instanceof GuestTimeoutError && /did not confirm within 200 ms; the host side was rolled back/.test(e.message),
    );
    assert.equal(existsSync(socketPath), false);
  });

  it('fails at once when interrupted, naming what interrupted it', async () => {
    const abort = new AbortController();
    const wait = configureGuest(socketPath, await guestHere(), 10_000, abort.signal);
    await listening();
    abort.abort('SIGINT');
    await assert.rejects(wait, (e: unknown) => e instanceof AgentError && e.message.startsWith('interrupted by SIGINT while waiting'));
    assert.equal(existsSync(socketPath), false);
  });

  it('takes the socket when another one-shot attach frees it, within its own timeout', async () => {
    const record = await guestHere();
    const first = await listenExclusively(socketPath, (socket) => socket.destroy());
    const wait = configureGuest(socketPath, record, 10_000, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 150));
    await rm(socketPath, { force: true });
    await new Promise<void>((done) => first.close(() => done()));
    await listening();
    const guest = await helloFrom(socketPath, [record.token]);
    guest.connection.send(guest.auth.applied(guest.first as Configure));
    await wait;
    guest.connection.destroy();
  });

  it('never removes a socket that is no longer its own', async () => {
    const wait = configureGuest(socketPath, await guestHere(), 300, new AbortController().signal);
    await listening();
    await rm(socketPath);
    const next = await listenExclusively(socketPath, (socket) => socket.destroy());
    await assert.rejects(wait, GuestTimeoutError);
    assert.equal(existsSync(socketPath), true, "the next attach's socket");
    await new Promise<void>((done) => next.close(() => done()));
  });
});
