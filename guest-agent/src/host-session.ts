import {
  CAPABILITY_DHCP,
  CAPABILITY_IPV6,
  describeError,
  type FramedConnection,
  type GuestConfig,
  type HostMessage,
  linkIdOf,
  linkKeyOf,
  newNonce,
  proofOf,
  PROTOCOL_VERSION,
  ProtocolError,
  redact,
  sameHex,
  secretsOf,
  type SessionNonces,
  signed,
  verifies,
} from '@guestnet/protocol';
import { ipv6Enabled } from './ip.js';
import type { ApplyReport, Keeper } from './keeper.js';
import type { GuestObserved } from './observe.js';

const CONFIGURE_DEADLINE_MS = 10_000;
// An idle session pings this often, so a host that died without closing
// (a hung daemon, a frozen VM launcher) is noticed and we reconnect.
const PING_EVERY_MS = 15_000;
const PONG_WITHIN_MS = 5_000;

/**
 * The guest's half of an authenticated session (protocol/README.md): the
 * link the host proved it knows, and the key that checks everything it sends.
 */
class HostSession {
  private lastSeq = 0;
  constructor(
    readonly id: string,
    readonly token: string,
    private readonly key: Buffer,
    private readonly nonces: SessionNonces,
  ) {}

  /** Accepts a signed host message for our link with a sequence number above the last: no forgery, no replay. */
  accept<T extends { id: string; seq: number; mac: string }>(message: T): T {
    if (message.id !== this.id || !verifies(this.key, this.nonces, message))
      throw new ProtocolError(`the host's ${describe(message)} is not signed for our link; not applying it`);
    if (message.seq <= this.lastSeq) throw new ProtocolError(`the host's ${describe(message)} repeats sequence number ${message.seq}`);
    this.lastSeq = message.seq;
    return message;
  }

  sign<T extends Record<string, unknown>>(message: T): T & { mac: string } {
    return signed(this.key, this.nonces, message);
  }
}

const describe = (message: object) => String((message as { type?: unknown }).type ?? 'message');

async function nextFromHost(connection: FramedConnection<HostMessage>): Promise<HostMessage> {
  const message = await connection.receive(CONFIGURE_DEADLINE_MS);
  if (message.type === 'error') throw new ProtocolError(`host refused: ${message.message}`);
  return message;
}

/**
 * Offers our links by id, checks that the host knows the token of the one it
 * picks, proves that we know it too, and applies the configuration the host
 * then sends, planned from `seen` (what showed the tokens) if it still holds.
 * `dnsKind` tells the host where DNS goes: 'resolv.conf' or Android's 'ipconfig'.
 */
export async function greet(
  connection: FramedConnection<HostMessage>,
  tokens: string[],
  dnsKind: string,
  keeper: Keeper,
  seen: GuestObserved,
): Promise<{ report: ApplyReport; session: HostSession }> {
  const byId = new Map(tokens.map((token) => [linkIdOf(token), token]));
  const nonce = newNonce();
  const capabilities = [dnsKind, ...(ipv6Enabled() ? [CAPABILITY_IPV6] : []), ...(keeper.takesDhcp ? [CAPABILITY_DHCP] : [])];
  connection.send({ type: 'hello', version: PROTOCOL_VERSION, links: [...byId.keys()], nonce, capabilities });
  const challenge = await nextFromHost(connection);
  if (challenge.type !== 'challenge') throw new ProtocolError(`expected challenge, got ${challenge.type}`);
  const token = byId.get(challenge.link);
  if (!token) throw new ProtocolError('the host picked a link we did not offer');
  const key = linkKeyOf(token);
  const nonces = { guest: nonce, host: challenge.nonce };
  if (!sameHex(challenge.proof, proofOf(key, 'host', nonces)))
    throw new ProtocolError('the host could not prove it holds our link token; not trusting it');
  connection.send({ type: 'prove', proof: proofOf(key, 'guest', nonces) });
  const session = new HostSession(challenge.link, token, key, nonces);
  const configure = await nextFromHost(connection);
  if (configure.type !== 'configure') throw new ProtocolError(`expected configure, got ${configure.type}`);
  return { report: await applyAndReport(connection, session, session.accept(configure), keeper, seen), session };
}

async function applyAndReport(
  connection: FramedConnection<HostMessage>,
  session: HostSession,
  configure: { seq: number; link: GuestConfig['link']; dns: string[] },
  keeper: Keeper,
  seen?: GuestObserved,
): Promise<ApplyReport> {
  const reply = { type: 'applied' as const, id: session.id, seq: configure.seq };
  try {
    const report = await keeper.apply({ token: session.token, link: configure.link, dns: configure.dns }, seen);
    connection.send(session.sign({ ...reply, ok: true, ...report }));
    return report;
  } catch (error) {
    const { code, message } = describeError(error);
    // An error may quote the link's one-time name, which is its token: it never crosses the socket.
    const shown = redact(message, [session.token, keeper.currentToken(session.token)].flatMap(secretsOf));
    connection.send(session.sign({ ...reply, ok: false, error: { code, message: shown.slice(0, 200) } }));
    throw error;
  }
}

/**
 * Serves the host until the session ends: applies re-sent configurations,
 * drops a released one, and pings when idle. Rejects when the host hangs
 * up, stops answering, or misbehaves.
 */
export async function follow(connection: FramedConnection<HostMessage>, session: HostSession, keeper: Keeper): Promise<never> {
  let seq = 0;
  let awaitingPong = false;
  for (;;) {
    const message = await connection.next(awaitingPong ? PONG_WITHIN_MS : PING_EVERY_MS);
    if (message === undefined) {
      if (awaitingPong) throw new ProtocolError(`the host agent did not answer a ping within ${PONG_WITHIN_MS} ms`);
      connection.send({ type: 'ping', seq: ++seq });
      awaitingPong = true;
      continue;
    }
    switch (message.type) {
      case 'pong':
        if (message.seq === seq) awaitingPong = false;
        break;
      case 'configure':
        await applyAndReport(connection, session, session.accept(message), keeper);
        break;
      case 'release':
        session.accept(message);
        keeper.release(session.token);
        break;
      case 'challenge':
        throw new ProtocolError('the host sent a second challenge');
      case 'error':
        throw new ProtocolError(`host ended the session: ${message.message}`);
    }
  }
}
