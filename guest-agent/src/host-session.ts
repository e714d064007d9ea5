import {
  type Configure,
  describeError,
  type FramedConnection,
  type HostMessage,
  PROTOCOL_VERSION,
  ProtocolError,
} from '@guestnet/protocol';
import type { ApplyReport, Keeper } from './keeper.js';
import type { GuestObserved } from './observe.js';

const CONFIGURE_DEADLINE_MS = 10_000;
// An idle session pings this often, so a host that died without closing
// (a hung daemon, a frozen VM launcher) is noticed and we reconnect.
const PING_EVERY_MS = 15_000;
const PONG_WITHIN_MS = 5_000;

/**
 * Says hello with our tokens and applies the configuration the host answers
 * with, planned from `seen` (what showed the tokens) if it still holds.
 * `dnsKind` tells the host where DNS goes: 'resolv.conf' or Android's 'ipconfig'.
 */
export async function greet(
  connection: FramedConnection<HostMessage>,
  tokens: string[],
  dnsKind: string,
  keeper: Keeper,
  seen: GuestObserved,
): Promise<ApplyReport> {
  connection.send({ type: 'hello', version: PROTOCOL_VERSION, tokens, capabilities: [dnsKind] });
  const message = await connection.receive(CONFIGURE_DEADLINE_MS);
  if (message.type === 'error') throw new ProtocolError(`host refused: ${message.message}`);
  if (message.type !== 'configure') throw new ProtocolError(`expected configure, got ${message.type}`);
  return applyAndReport(connection, message, keeper, seen);
}

async function applyAndReport(connection: FramedConnection<HostMessage>, configure: Configure, keeper: Keeper, seen?: GuestObserved): Promise<ApplyReport> {
  try {
    const report = await keeper.apply(configure, seen);
    connection.send({ type: 'applied', token: configure.token, ok: true, ...report });
    return report;
  } catch (error) {
    const { code, message } = describeError(error);
    connection.send({ type: 'applied', token: configure.token, ok: false, error: { code, message: message.slice(0, 200) } });
    throw error;
  }
}

/**
 * Serves the host until the session ends: applies re-sent configurations,
 * drops a released one, and pings when idle. Rejects when the host hangs
 * up, stops answering, or misbehaves.
 */
export async function follow(connection: FramedConnection<HostMessage>, keeper: Keeper): Promise<never> {
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
        await applyAndReport(connection, message, keeper);
        break;
      case 'release':
        keeper.release(message.token);
        break;
      case 'error':
        throw new ProtocolError(`host ended the session: ${message.message}`);
    }
  }
}
