import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApplyReport, readStatus, run } from '@guestnet/guest-agent';
import { GuestSession, receiveHello, SessionAuth } from '@guestnet/host-agent';
import {
  FramedConnection,
  type GuestConfig,
  type GuestMessage,
  linkIdOf,
  linkKeyOf,
  newNonce,
  newOneTimeToken,
  parseGuestMessage,
  proofOf,
} from '@guestnet/protocol';
import { hostLink, ScriptedEvents, SimulatedGuest } from '../../../fixtures/guest-kernel.js';

// `guest-agent run` against a simulated guest kernel and a host on a unix
// socket that speaks the daemon's side (GuestSession): how it waits for its
// link (a look after every event, quick looks at first, then a slow poll, no
// look for an arrival the event shows whole), then for the socket, and what
// it resolves to: the report with --once, which the CLI prints before it
// exits 0, nothing when stopped, which exits 0 too.

const link = { rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' };
const linkLine = (name: string, index: number) =>
  `${index}: ${name}@if9: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 02:67:6e:11:03:03`;

describe('guest-agent/commands/run: waiting for the link and the host, and what it returns', () => {
  let dir: string;
  let socket: string;
  let server: Server | undefined;
  let guest: SimulatedGuest;
  let events: ScriptedEvents;
  let closed: number;
  /** What the agent said of keeping a look spawned ahead, in turn. */
  let looksAhead: boolean[];
  let said: Array<[string, Record<string, unknown> | undefined]>;
  let stop: () => void;
  let running: Promise<ApplyReport | undefined> | undefined;
  const connections: Array<FramedConnection<GuestMessage>> = [];
  let connected: () => void = () => {};

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    socket = join(dir, 'guest.sock');
    guest = new SimulatedGuest();
    events = new ScriptedEvents();
    closed = 0;
    looksAhead = [];
    said = [];
    connections.length = 0;
    running = undefined;
  });
  afterEach(async () => {
    stop?.();
    await running;
    for (const connection of connections) connection.destroy();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  function start(once: boolean): Promise<ApplyReport | undefined> {
    const stopped = new Promise((resolve) => (stop = () => resolve(undefined)));
    const options = {
      socket,
      dnsTarget: { kind: 'resolv.conf' as const, path: join(dir, 'resolv.conf') },
      statusFile: join(dir, 'agent.json'),
      once,
      onEvent: (message: string, meta?: Record<string, unknown>) => void said.push([message, meta]),
      stop: stopped,
    };
    running = run(options, { events, kernel: guest, looksAhead: (keep) => void looksAhead.push(keep), close: () => void closed++ });
    return running;
  }

  /** The host's socket, each connection kept as it comes. */
  async function listen(): Promise<void> {
    server = createServer((s) => {
      connections.push(new FramedConnection(s, parseGuestMessage));
      connected();
    });
    await new Promise<void>((resolve) => server?.listen(socket, resolve));
  }
  const nextConnection = async (): Promise<FramedConnection<GuestMessage>> => {
    const seen = connections.length;
    while (connections.length === seen) await new Promise<void>((resolve) => (connected = resolve));
    return connections[seen] as FramedConnection<GuestMessage>;
  };

  /** The daemon's side of a session for `token`: its hello, its proof, then the session that configures it. */
  async function session(token: string, connecting = nextConnection()): Promise<{ session: GuestSession; offered: string[] }> {
    const connection = await connecting;
    const hello = await receiveHello(connection);
    const [id, key] = [linkIdOf(token), linkKeyOf(token)];
    const nonces = { guest: hello.nonce, host: newNonce() };
    connection.send({ type: 'challenge', link: id, nonce: nonces.host, proof: proofOf(key, 'host', nonces) });
    const prove = await connection.receive(5000);
    assert.deepEqual(prove, { type: 'prove', proof: proofOf(key, 'guest', nonces) });
    const auth = new SessionAuth(id, key, nonces);
    return { session: new GuestSession(connection, auth, hello.capabilities), offered: hello.links };
  }

  const config = (token: string): GuestConfig => ({ token, link, dns: ['172.17.3.2'] });

  /** The host state the status file shows, once it shows `want` (it is written in the background), or at last. */
  async function hostState(want: string): Promise<string | undefined> {
    let state: string | undefined;
    for (let i = 0; i < 500 && state !== want; i++) {
      state = (await readStatus(join(dir, 'agent.json')))?.host.state;
      if (state !== want) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return state;
  }

  it('waits for its link: quick looks at first, then a slow poll, and a look at once after any event', async () => {
    await listen();
    start(true);
    await events.waiting();
    for (let i = 0; i < 5; i++) {
      events.timeout();
      await events.waiting();
    }
    assert.equal(guest.looks, 6);
    // Backing off over a few seconds (a monitor that listens late misses the link's event), then the slow poll.
    const waits = [...events.waits];
    const [quick, slow] = [waits[0], waits[5]];
    assert.ok(
      waits.slice(0, 5).every((wait, i) => i === 0 || wait > (waits[i - 1] ?? 0)),
      String(waits),
    );
    assert.ok(quick !== undefined && slow !== undefined && (waits[4] ?? 0) >= 2000 && slow >= 30_000, String(waits));
    assert.equal(await hostState('waiting for our link'), 'waiting for our link');
    events.emit('32000:\tfrom all lookup main');
    await events.waiting();
    assert.deepEqual([guest.looks, events.waits.at(-1)], [7, quick], 'an event starts the quick looks over');
  });

  it('takes a link whose arrival an event shows whole without a look, offers its id, and returns the report with --once', async () => {
    await listen();
    const done = start(true);
    await events.waiting();
    const token = newOneTimeToken();
    guest.state.links.push(hostLink(token, 8));
    events.emit(linkLine(token.slice('guestnet:'.length), 8));
    const { session: host, offered } = await session(token);
    assert.equal(guest.looks, 1, 'the look before the arrival and the arrival are the guest as it is');
    assert.deepEqual(offered, [linkIdOf(token)]);
    const confirmed = await host.configure(config(token));
    const report = await done;
    assert.deepEqual(report, confirmed);
    assert.equal(guest.link('wlan0')?.addresses[0], '172.17.3.3/16');
    assert.deepEqual(said.at(-1)?.[0], 'applied');
    assert.equal(existsSync(join(dir, 'agent.json')), false, 'a clean exit leaves no status behind');
    assert.deepEqual([events.stopped, closed], [true, 1]);
  });

  it('takes a NIC moved in and renamed in one message without a look, when the monitor prints its two lines apart', async () => {
    await listen();
    const done = start(true);
    await events.waiting();
    const token = newOneTimeToken();
    guest.state.links.push(hostLink(token, 6));
    const connecting = nextConnection();
    events.emit(linkLine('eth2', 6));
    // The first line woke the agent: it waits for the rename rather than look, or it has looked and connected.
    await Promise.race([events.waiting(), connecting]);
    events.emit(linkLine(token.slice('guestnet:'.length), 6));
    const { session: host } = await session(token, connecting);
    assert.equal(guest.looks, 1, 'the look before the arrival and the arrival are the guest as it is');
    await host.configure(config(token));
    await done;
  });

  it('looks when a link shows twice under names that are not one-time: it was renamed, but not to one of ours', async () => {
    await listen();
    const done = start(true);
    await events.waiting();
    const token = newOneTimeToken();
    guest.state.links.push(hostLink(token, 6));
    const connecting = nextConnection();
    events.emit(linkLine('eth2', 6));
    await events.waiting();
    events.emit(linkLine('wlan1', 6));
    const { session: host } = await session(token, connecting);
    assert.equal(guest.looks, 2);
    await host.configure(config(token));
    await done;
  });

  it('waits for the host socket once it has its link, and connects when the host starts listening', async () => {
    const token = newOneTimeToken();
    guest.state.links.push(hostLink(token));
    const done = start(true);
    assert.equal(await hostState('connecting'), 'connecting');
    await listen();
    const { session: host } = await session(token);
    await host.configure(config(token));
    assert.equal((await done)?.state.address, '172.17.3.3');
  });

  it('reconnects after the host hangs up or refuses, with no token in what it logs', async () => {
    await listen();
    const token = newOneTimeToken();
    guest.state.links.push(hostLink(token));
    start(false);
    const first = await session(token);
    first.session.close();
    const second = await nextConnection();
    assert.deepEqual(said.at(-1), ['the host agent closed the session; reconnecting', undefined]);
    await receiveHello(second);
    const name = token.slice('guestnet:'.length);
    second.end({ type: 'error', code: 'internal', message: `no link ${name} here` });
    await nextConnection();
    const [message, meta] = said.at(-1) ?? [];
    assert.equal(message, 'host session failed');
    assert.match(JSON.stringify(meta), /host refused: no link <one-time-name> here/);
    assert.doesNotMatch(JSON.stringify(said), new RegExp(name));
  });

  it('keeps a look spawned ahead while it waits for its link, and none once it has found it', async () => {
    await listen();
    const done = start(false);
    for (let i = 0; i < 100 && looksAhead.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(looksAhead, [true]);
    const token = newOneTimeToken();
    guest.state.links.push(hostLink(token));
    events.emit(linkLine(token.slice('guestnet:'.length), 8));
    const { session: host } = await session(token);
    await host.configure(config(token));
    assert.equal(await hostState('connected'), 'connected');
    assert.equal(looksAhead.at(-1), false);
    assert.ok(!looksAhead.slice(looksAhead.indexOf(false)).includes(true), `${looksAhead}`);
    stop();
    await done;
  });

  it('stops looking and reconnecting once stopped: nothing of it runs on after it returns', async () => {
    const token = newOneTimeToken();
    guest.state.links.push(hostLink(token));
    const done = start(false);
    while (guest.looks < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    stop();
    await done;
    const looks = guest.looks;
    // No host listens: a loop left running would look again after each short backoff.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(guest.looks, looks);
  });

  it('keeps serving after an apply until stopped, then returns nothing and lets go of all it took', async () => {
    await listen();
    const token = newOneTimeToken();
    guest.state.links.push(hostLink(token));
    const done = start(false);
    const { session: host } = await session(token);
    await host.configure(config(token));
    assert.equal(await hostState('connected'), 'connected');
    stop();
    assert.equal(await done, undefined);
    assert.deepEqual([events.stopped, closed, existsSync(join(dir, 'agent.json'))], [true, 1, false]);
  });
});
