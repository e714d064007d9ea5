import { setTimeout as sleep } from 'node:timers/promises';
import type { Admission, Admitted } from './admission.js';
import {
  AgentError,
  type AppliedState,
  CAPABILITY_DHCP,
  CAPABILITY_IPV6,
  type FramedConnection,
  GuestApplyError,
  type GuestConfig,
  type GuestMessage,
  type Hello,
  type Ipv6Config,
  linkIdOf,
  linkKeyOf,
  newNonce,
  proofOf,
  ProtocolError,
  redact,
  type Release,
  sameHex,
  secretsOf,
  type SessionNonces,
  signed,
  verifies,
} from '@guestnet/protocol';

// The host's half of protocol v2 (protocol/README.md): a guest names its links
// by id, both sides prove they know the link's token without sending it, and
// every configure and applied is signed with a key derived from it.

// A guest that connects must say hello promptly; one that doesn't only holds a slot.
export const HELLO_DEADLINE_MS = 5000;
const APPLY_DEADLINE_MS = 30_000;

export interface GuestConfirmation {
  state: AppliedState;
  changes: number;
}

/** The name a guest's agent confirmed giving its link, from what an attach's guest side returned; undefined if none. */
export const confirmedLinkName = (side: GuestConfirmation | object | string | undefined): string | undefined =>
  typeof side === 'object' && 'state' in side ? (side as GuestConfirmation).state.name : undefined;

/** `by`: what interrupted the attach, e.g. SIGTERM, or its caller hanging up. */
export function interrupted(by: string): AgentError {
  return new AgentError('interrupted', `interrupted by ${by} while waiting for the guest agent; the host side was rolled back`);
}

/** Waits up to `timeoutMs` for the guest's answer to what was just sent. */
export type AwaitReply = (timeoutMs: number) => Promise<GuestMessage>;

/** A well-behaved agent whose links are not the ones awaited: another guest's, reconnecting. Not an attack. */
export class UnknownGuestError extends ProtocolError {}

/** A session refused before any proof: over its netns' budget (`busy`, `drop`), or from a netns the host cannot tell. */
export class RefusedSessionError extends ProtocolError {
  constructor(
    readonly admission: Exclude<Admission, 'own' | 'foreign'>,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A session for a link that came from a netns other than that link's
 * guest's: refused whatever it proved. `validProof`: it proved it holds the
 * token, which has leaked (or a relay passes the guest's own proof along).
 */
export class ForeignSessionError extends ProtocolError {
  constructor(
    readonly validProof: boolean,
    readonly source: string | undefined,
  ) {
    super(
      `refused a session from ${source ?? 'an unknown netns'}: its link is attached to another netns` +
        (validProof ? ", and it proved it holds that link's token" : ''),
    );
  }
}

/** An authenticated session: its link id, key and nonces, and the host's message counter. */
export class SessionAuth {
  private seq = 0;
  constructor(
    readonly id: string,
    private readonly key: Buffer,
    private readonly nonces: SessionNonces,
  ) {}

  /** Signs a message of the host's, giving it the next sequence number. */
  sign<T extends Record<string, unknown>>(message: T): T & { seq: number; mac: string } {
    return signed(this.key, this.nonces, { ...message, seq: ++this.seq });
  }

  verifies(message: { mac: string }): boolean {
    return verifies(this.key, this.nonces, message);
  }

  release(): Release {
    return this.sign({ type: 'release' as const, id: this.id });
  }
}

export async function receiveHello(connection: FramedConnection<GuestMessage>): Promise<Hello> {
  const hello = await connection.receive(HELLO_DEADLINE_MS);
  if (hello.type !== 'hello') throw new ProtocolError(`expected hello, got ${hello.type}`);
  return hello;
}

// A hello that names no link attached here is answered after this long: a loop of them gets nowhere fast.
const UNKNOWN_LINK_ANSWER_MS = 1000;

async function refuseUnknownGuest(connection: FramedConnection<GuestMessage>): Promise<never> {
  await sleep(UNKNOWN_LINK_ANSWER_MS);
  connection.end({ type: 'error', code: 'unknownLink', message: 'none of your links is attached here' });
  throw new UnknownGuestError('a guest without an attached link connected');
}

const REFUSALS: Record<RefusedSessionError['admission'], { code: string; message: string }> = {
  busy: { code: 'busy', message: 'too many sessions from this netns; try again later' },
  drop: { code: 'busy', message: 'too many sessions on this link from other netns' },
  unknown: { code: 'unknownNetns', message: 'the host cannot tell which netns this connection comes from' },
};

/**
 * Finds the attachment one of the hello's links names, asks `admit` whether
 * this connection may hold a session for it (from its guest's netns, within
 * budget), proves to the guest that the host knows its token, and has the
 * guest prove the same. A relay in between sees ids, nonces and proofs, none
 * of which gives it the token; and from its own netns, it gets no session.
 */
export async function authenticate<T extends { token: string }>(
  connection: FramedConnection<GuestMessage>,
  hello: Hello,
  lookup: (linkIds: string[]) => T | undefined,
  admit: (subject: T) => Promise<Admitted>,
): Promise<{ subject: T; auth: SessionAuth; capabilities: string[] }> {
  const subject = lookup(hello.links);
  if (!subject) return refuseUnknownGuest(connection);
  const { admission, source, answerWhen } = await admit(subject);
  if (admission === 'busy') await answerWhen?.();
  if (admission === 'drop') connection.destroy();
  if (admission === 'busy' || admission === 'unknown') connection.end({ type: 'error', ...REFUSALS[admission] });
  if (admission === 'drop' || admission === 'busy' || admission === 'unknown')
    throw new RefusedSessionError(admission, `refused a session from ${source ?? 'an unknown netns'}: ${REFUSALS[admission].message}`);
  const id = linkIdOf(subject.token);
  const key = linkKeyOf(subject.token);
  const nonces = { guest: hello.nonce, host: newNonce() };
  connection.send({ type: 'challenge', link: id, nonce: nonces.host, proof: proofOf(key, 'host', nonces) });
  const answer = await replyFrom(connection)(HELLO_DEADLINE_MS);
  const proved = answer.type === 'prove' && sameHex(answer.proof, proofOf(key, 'guest', nonces));
  // Asked to prove all the same: a valid proof from elsewhere tells that the token leaked.
  if (admission === 'foreign') {
    connection.end({ type: 'error', code: 'wrongNetns', message: 'this link is not attached to the netns you connect from' });
    throw new ForeignSessionError(proved, source);
  }
  if (!proved) throw new ProtocolError('the guest could not prove it holds its link token');
  return { subject, auth: new SessionAuth(id, key, nonces), capabilities: hello.capabilities };
}

/** The guest's next message that is not a ping, answering pings on the way. */
export function replyFrom(connection: FramedConnection<GuestMessage>): AwaitReply {
  return async (timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await connection.receive(Math.max(1, deadline - Date.now()));
      if (message.type !== 'ping') return message;
      connection.send({ type: 'pong', seq: message.seq });
    }
  };
}

/**
 * Sends the signed configuration and returns what the guest reports as in
 * force. A report that is unsigned, for another link or message, or differs
 * in any field from what was sent, is a failure.
 */
export async function exchange(
  wanted: GuestConfig,
  auth: SessionAuth,
  send: (message: unknown) => void,
  awaitReply: AwaitReply,
  capabilities: readonly string[],
): Promise<GuestConfirmation> {
  const config = forCapabilities(wanted, capabilities);
  const configure = auth.sign({ type: 'configure' as const, id: auth.id, link: config.link, dns: config.dns });
  send(configure);
  const applied = await awaitReply(APPLY_DEADLINE_MS);
  if (applied.type !== 'applied' || applied.id !== auth.id || applied.seq !== configure.seq)
    throw new ProtocolError('expected applied for our link');
  if (!auth.verifies(applied)) throw new ProtocolError("the guest's applied is not signed with its link key");
  // What the guest says is printed: should it quote its token (its link's one-time name), that shows as a placeholder.
  const shown = (text: string) => redact(text, secretsOf(wanted.token));
  if (!applied.ok) throw new GuestApplyError(`the guest agent could not apply: ${shown(applied.error.message)}`);
  const mismatch = differs(config, applied.state);
  if (mismatch) throw new GuestApplyError(`the guest agent reports ${shown(mismatch)}`);
  return { state: applied.state, changes: applied.changes };
}

/** A guest that did not announce IPv6 (an older agent, or IPv6 off in its kernel) is configured for IPv4 alone. */
export function forCapabilities(config: GuestConfig, capabilities: readonly string[]): GuestConfig {
  if (config.link.dhcp && !capabilities.includes(CAPABILITY_DHCP))
    throw new GuestApplyError('the guest cannot take a DHCP lease: it has no udhcpc (busybox), or its agent is older');
  if (!config.link.ipv6 || capabilities.includes(CAPABILITY_IPV6)) return config;
  const { ipv6: _, ...link } = config.link;
  return { ...config, link };
}

const sameIpv6 = (a: Ipv6Config | undefined, b: Ipv6Config | undefined) =>
  a?.address === b?.address && a?.prefixLength === b?.prefixLength && a?.gateway === b?.gateway;

function differs({ link, dns }: GuestConfig, state: AppliedState): string | undefined {
  if (state.name !== link.rename) return `link name ${state.name}, not ${link.rename}`;
  // A lease is the DHCP server's to choose: only the link itself is ours to check.
  if (link.dhcp) return state.mtu !== link.mtu ? `MTU ${state.mtu}` : undefined;
  if (state.address !== link.address || state.prefixLength !== link.prefixLength) return `address ${state.address}/${state.prefixLength}`;
  if (state.gateway !== link.gateway) return `gateway ${state.gateway}`;
  if (state.mtu !== link.mtu) return `MTU ${state.mtu}`;
  if (!sameIpv6(state.ipv6, link.ipv6))
    return `IPv6 ${state.ipv6 ? `${state.ipv6.address}/${state.ipv6.prefixLength} via ${state.ipv6.gateway}` : '(none)'}`;
  if (state.dns.join(' ') !== dns.join(' ')) return `DNS ${state.dns.join(' ') || '(none)'}, not ${dns.join(' ') || '(none)'}`;
  return undefined;
}
