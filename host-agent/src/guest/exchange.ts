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

export async function receiveHello(connection: FramedConnection<GuestMessage>): Promise<Hello> {
  const hello = await connection.receive(HELLO_DEADLINE_MS);
  if (hello.type !== 'hello') throw new ProtocolError(`expected hello, got ${hello.type}`);
  return hello;
}

export function refuseUnknownGuest(connection: FramedConnection<GuestMessage>): never {
  connection.end({ type: 'error', code: 'unknownLink', message: 'none of your links is attached here' });
  throw new ProtocolError('a guest without an attached link connected');
}

/** Sends the configuration and returns what the guest reports as in force; a report that differs is a failure. */
export async function exchange(connection: FramedConnection<GuestMessage>, configure: Configure): Promise<GuestConfirmation> {
  connection.send(configure);
  const applied = await connection.receive(APPLY_DEADLINE_MS);
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
