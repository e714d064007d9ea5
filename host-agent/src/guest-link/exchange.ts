import {
  type AppliedState,
  type Configure,
  type FramedConnection,
  GuestApplyError,
  type GuestMessage,
  type Hello,
  ProtocolError,
} from '@guestnet/protocol';

// A guest that connects must say hello promptly; one that doesn't only holds a slot.
export const HELLO_DEADLINE_MS = 5000;
const APPLY_DEADLINE_MS = 30_000;

export interface GuestConfirmation {
  state: AppliedState;
  changes: number;
}

/** Waits up to `timeoutMs` for the guest's answer to what was just sent. */
export type AwaitReply = (timeoutMs: number) => Promise<GuestMessage>;

export async function receiveHello(connection: FramedConnection<GuestMessage>): Promise<Hello> {
  const hello = await connection.receive(HELLO_DEADLINE_MS);
  if (hello.type !== 'hello') throw new ProtocolError(`expected hello, got ${hello.type}`);
  return hello;
}

/** A well-behaved agent whose links are not the ones awaited: another guest's, reconnecting. Not an attack. */
export class UnknownGuestError extends ProtocolError {}

export function refuseUnknownGuest(connection: FramedConnection<GuestMessage>): never {
  connection.end({ type: 'error', code: 'unknownLink', message: 'none of your links is attached here' });
  throw new UnknownGuestError('a guest without an attached link connected');
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

/** Sends the configuration and returns what the guest reports as in force; a report that differs is a failure. */
export async function exchange(configure: Configure, send: (message: Configure) => void, awaitReply: AwaitReply): Promise<GuestConfirmation> {
  send(configure);
  const applied = await awaitReply(APPLY_DEADLINE_MS);
  if (applied.type !== 'applied' || applied.token !== configure.token) throw new ProtocolError('expected applied for our link');
  if (!applied.ok) throw new GuestApplyError(`the guest agent could not apply: ${applied.error.message}`);
  const mismatch = differs(configure, applied.state);
  if (mismatch) throw new GuestApplyError(`the guest agent reports ${mismatch}`);
  return { state: applied.state, changes: applied.changes };
}

function differs(configure: Configure, state: AppliedState): string | undefined {
  const { link } = configure;
  if (state.name !== link.rename) return `link name ${state.name}, not ${link.rename}`;
  if (state.address !== link.address || state.prefixLength !== link.prefixLength) return `address ${state.address}/${state.prefixLength}`;
  if (state.gateway !== link.gateway) return `gateway ${state.gateway}`;
  if (state.mtu !== link.mtu) return `MTU ${state.mtu}`;
  return undefined;
}
