import { promises as fs } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  type AppliedState,
  type Configure,
  excerpt,
  FramedConnection,
  GuestApplyError,
  GuestTimeoutError,
  type GuestMessage,
  parseGuestMessage,
  ProtocolError,
  SocketBusyError,
} from '@guestnet/protocol';

// A guest that connects must say hello promptly; one that doesn't only holds a slot.
const HELLO_DEADLINE_MS = 5000;
const MAX_PENDING_CONNECTIONS = 16;

export interface GuestConfirmation {
  state: AppliedState;
  changes: number;
}

/** Receives a connection count and rejection reasons; it must not throw. */
export type SessionEvents = (event: { rejected: string } | { connected: number }) => void;

/**
 * Listens on `socketPath` until the guest agent holding `configure.token`
 * connects, hands it its configuration and returns what it applied. Other
 * connections are told why and closed; none of them can fail the wait.
 */
export async function configureGuest(
  socketPath: string,
  configure: Configure,
  timeoutMs: number,
  onEvent: SessionEvents = () => {},
): Promise<GuestConfirmation> {
  const server = await listenExclusively(socketPath);
  const sockets = new Set<Socket>();
  try {
    return await new Promise<GuestConfirmation>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new GuestTimeoutError(`the guest agent did not confirm within ${timeoutMs} ms; the host side was rolled back (use --no-wait to keep it without a guest agent)`)),
        timeoutMs,
      );
      server.on('connection', (socket) => {
        if (sockets.size >= MAX_PENDING_CONNECTIONS) return void socket.destroy();
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        onEvent({ connected: sockets.size });
        handshake(new FramedConnection<GuestMessage>(socket, parseGuestMessage), configure).then(
          (confirmation) => (clearTimeout(timer), resolve(confirmation)),
          (error: Error) => {
            if (error instanceof GuestApplyError) return void (clearTimeout(timer), reject(error));
            onEvent({ rejected: excerpt(error.message, 120) });
          },
        );
      });
    });
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((done) => server.close(() => done()));
    await fs.rm(socketPath, { force: true });
  }
}

async function handshake(connection: FramedConnection<GuestMessage>, configure: Configure): Promise<GuestConfirmation> {
  try {
    const hello = await connection.receive(HELLO_DEADLINE_MS);
    if (hello.type !== 'hello') throw new ProtocolError(`expected hello, got ${hello.type}`);
    if (!hello.tokens.includes(configure.token)) {
      connection.end({ type: 'error', code: 'unknownLink', message: 'none of your links is being attached here' });
      throw new ProtocolError('a guest without the attached link connected');
    }
    connection.send(configure);
    const applied = await connection.receive(HELLO_DEADLINE_MS * 6);
    if (applied.type !== 'applied' || applied.token !== configure.token) throw new ProtocolError('expected applied for our link');
    if (!applied.ok) throw new GuestApplyError(`the guest agent could not apply: ${applied.error.message}`);
    const mismatch = checkApplied(configure, applied.state);
    if (mismatch) throw new GuestApplyError(`the guest agent reports ${mismatch}`);
    connection.end();
    return { state: applied.state, changes: applied.changes };
  } catch (error) {
    connection.destroy();
    throw error;
  }
}

function checkApplied(configure: Configure, state: AppliedState): string | undefined {
  const { link } = configure;
  if (state.name !== link.rename) return `link name ${state.name}, not ${link.rename}`;
  if (state.address !== link.address || state.prefixLength !== link.prefixLength) return `address ${state.address}/${state.prefixLength}`;
  if (state.gateway !== link.gateway) return `gateway ${state.gateway}`;
  if (state.mtu !== link.mtu) return `MTU ${state.mtu}`;
  return undefined;
}

/** Refuses to take over a socket someone is serving; a leftover file from a dead agent is replaced. */
async function listenExclusively(socketPath: string): Promise<Server> {
  await fs.mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  if (await someoneListens(socketPath)) {
    throw new SocketBusyError(`${socketPath} is already served by another guestnet agent`);
  }
  await fs.rm(socketPath, { force: true });
  const server = createServer();
  // Owner-only from the moment it exists: no window where another user can connect.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => (server.off('error', reject), resolve()));
    });
  } finally {
    process.umask(umask);
  }
  return server;
}

function someoneListens(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
}
