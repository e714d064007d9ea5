import type { Socket } from 'node:net';
import { promises as fs } from 'node:fs';
import { excerpt, FramedConnection, GuestApplyError, type GuestConfig, type GuestMessage, GuestTimeoutError, linkIdOf, parseGuestMessage } from '@guestnet/protocol';
import { authenticate, exchange, type GuestConfirmation, interrupted, receiveHello, replyFrom, UnknownGuestError } from './exchange.js';
import { listenExclusively } from './socket.js';

const MAX_PENDING_CONNECTIONS = 16;


/** Receives connection counts and rejection reasons (`unknownGuest`: another guest's agent, not a misbehaving one); it must not throw. */
export type SessionEvents = (event: { rejected: string; unknownGuest: boolean } | { connected: number }) => void;

/**
 * Without a daemon: listens on `socketPath` until the guest agent holding
 * the token of `config` connects and proves it, hands it its configuration and returns what it
 * applied. Other connections are told why and closed; none of them can fail
 * the wait.
 */
export async function configureGuest(
  socketPath: string,
  config: GuestConfig,
  timeoutMs: number,
  abort: AbortSignal,
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
      const onAbort = () => {
        clearTimeout(timer);
        reject(interrupted(String(abort.reason)));
      };
      if (abort.aborted) onAbort();
      abort.addEventListener('abort', onAbort, { once: true });
      server.on('connection', (socket) => {
        if (sockets.size >= MAX_PENDING_CONNECTIONS) return void socket.destroy();
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        onEvent({ connected: sockets.size });
        handshake(new FramedConnection<GuestMessage>(socket, parseGuestMessage), config).then(
          (confirmation) => (clearTimeout(timer), resolve(confirmation)),
          (error: Error) => {
            if (error instanceof GuestApplyError) return void (clearTimeout(timer), reject(error));
            onEvent({ rejected: excerpt(error.message, 120), unknownGuest: error instanceof UnknownGuestError });
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

async function handshake(connection: FramedConnection<GuestMessage>, config: GuestConfig): Promise<GuestConfirmation> {
  try {
    const hello = await receiveHello(connection);
    const id = linkIdOf(config.token);
    const { auth } = await authenticate(connection, hello, (links) => (links.includes(id) ? config : undefined));
    const confirmation = await exchange(config, auth, (m) => connection.send(m), replyFrom(connection));
    connection.end();
    return confirmation;
  } catch (error) {
    connection.destroy();
    throw error;
  }
}
