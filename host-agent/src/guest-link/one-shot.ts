import type { Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promises as fs } from 'node:fs';
import {
  excerpt,
  SocketBusyError,
  FramedConnection,
  GuestApplyError,
  type GuestConfig,
  type GuestMessage,
  GuestTimeoutError,
  linkIdOf,
  parseGuestMessage,
} from '@guestnet/protocol';
import type { AttachmentRecord } from '../model/record.js';
import { type Admitted, GuestAdmission } from './admission.js';
import { guestConfigOf } from './configure.js';
import {
  authenticate,
  exchange,
  ForeignSessionError,
  type GuestConfirmation,
  interrupted,
  receiveHello,
  replyFrom,
  UnknownGuestError,
} from './exchange.js';
import { PendingConnections } from './pending.js';
import { PeerNetns } from './peer-netns.js';
import { listenExclusively } from './socket.js';

// Connections that have not proved themselves yet; the guest agent this
// attach waits for needs one.
const PENDING_LIMITS = { total: 64, perSource: 8 };
const ADMISSION_LIMITS = {
  sessions: { burst: 16, perSecond: 4 },
  foreign: { burst: 8, perSecond: 1 },
  looks: { burst: 32, perSecond: 16, maxWaitMs: 3000 },
  busyAnswerMs: 1000,
};

/**
 * Receives connection counts and rejection reasons (`unknownGuest`: another guest's agent, not a misbehaving one;
 * `leaked`: a session from another netns proved it holds the token); it must not throw.
 */
export type SessionEvents = (event: { rejected: string; unknownGuest: boolean; leaked?: boolean } | { connected: number }) => void;

/**
 * Without a daemon: listens on `socketPath` until the guest agent of
 * `record` connects from the guest's netns and proves it holds its token,
 * hands it its configuration and returns what it applied. Other connections
 * are told why and closed; none of them can fail the wait.
 */
export async function configureGuest(
  socketPath: string,
  record: AttachmentRecord,
  timeoutMs: number,
  abort: AbortSignal,
  onEvent: SessionEvents = () => {},
): Promise<GuestConfirmation> {
  const config = guestConfigOf(record);
  // Its guest's is the one netns worth looking in: a connection from any other is untold (peer-netns.ts).
  const admission = new GuestAdmission(ADMISSION_LIMITS, new PeerNetns(() => [record]));
  const started = Date.now();
  const sockets = new Set<Socket>();
  let closing = false;
  let confirm!: (confirmation: GuestConfirmation) => void;
  let fail!: (error: Error) => void;
  const confirmed = new Promise<GuestConfirmation>((resolve, reject) => {
    confirm = resolve;
    fail = reject;
  });
  // Settled possibly before it is awaited (an abort while the socket is set up).
  confirmed.catch(() => {});
  const pending = new PendingConnections(
    PENDING_LIMITS,
    (reason) => onEvent({ rejected: reason, unknownGuest: false }),
    (sockets) => admission.sourcesOf(sockets),
  );
  const onConnection = (socket: Socket) => {
    if (closing) return void socket.destroy();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    pending.add(socket);
    onEvent({ connected: sockets.size });
    const admit = () => admission.admit(socket, record);
    handshake(new FramedConnection<GuestMessage>(socket, parseGuestMessage), config, admit, () => pending.settle(socket)).then(
      confirm,
      (error: Error) => {
        pending.settle(socket);
        if (error instanceof GuestApplyError) return fail(error);
        const leaked = error instanceof ForeignSessionError && error.validProof;
        onEvent({ rejected: excerpt(error.message, 120), unknownGuest: error instanceof UnknownGuestError, ...(leaked ? { leaked } : {}) });
      },
    );
  };
  const server = await listenWhenFree(socketPath, started + timeoutMs, abort, onConnection);
  const timer = setTimeout(
    () =>
      fail(
        new GuestTimeoutError(
          `the guest agent did not confirm within ${timeoutMs} ms; the host side was rolled back (use --no-wait to keep it without a guest agent)`,
        ),
      ),
    Math.max(1, timeoutMs - (Date.now() - started)),
  );
  const onAbort = () => fail(interrupted(String(abort.reason)));
  if (abort.aborted) onAbort();
  else abort.addEventListener('abort', onAbort, { once: true });
  let ours: number | undefined;
  try {
    ours = (await fs.stat(socketPath)).ino;
    return await confirmed;
  } finally {
    clearTimeout(timer);
    abort.removeEventListener('abort', onAbort);
    closing = true;
    for (const socket of sockets) socket.destroy();
    // Unlinked while still listening, and only if it is still our socket: the next
    // one-shot attach cannot take the path before that, so its socket is never removed.
    if (ours !== undefined && (await fs.stat(socketPath).catch(() => undefined))?.ino === ours) await fs.rm(socketPath, { force: true });
    await new Promise<void>((done) => server.close(() => done()));
  }
}

/**
 * Another one-shot attach may be serving the socket while it waits for its own
 * guest (the state lock is not held during a wait): take the socket when it
 * frees, within this attach's own timeout.
 */
async function listenWhenFree(
  socketPath: string,
  deadline: number,
  abort: AbortSignal,
  onConnection: (socket: Socket) => void,
): Promise<Server> {
  for (;;) {
    try {
      return await listenExclusively(socketPath, onConnection);
    } catch (error) {
      if (!(error instanceof SocketBusyError) || Date.now() > deadline) throw error;
      if (abort.aborted) throw interrupted(String(abort.reason));
      await sleep(50);
    }
  }
}

async function handshake(
  connection: FramedConnection<GuestMessage>,
  config: GuestConfig,
  admit: () => Promise<Admitted>,
  authenticated: () => void,
): Promise<GuestConfirmation> {
  try {
    const hello = await receiveHello(connection);
    const id = linkIdOf(config.token);
    const { auth, capabilities } = await authenticate(connection, hello, (links) => (links.includes(id) ? config : undefined), admit);
    authenticated();
    const confirmation = await exchange(config, auth, (m) => connection.send(m), replyFrom(connection), capabilities);
    connection.end();
    return confirmation;
  } catch (error) {
    connection.destroy();
    throw error;
  }
}
