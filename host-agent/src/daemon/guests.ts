import type { Server, Socket } from 'node:net';
import { excerpt, FramedConnection, GuestTimeoutError, type GuestMessage, type LastApply, parseGuestMessage } from '@guestnet/protocol';
import { guestConfigOf } from '../guest-link/configure.js';
import { authenticate, type GuestConfirmation, interrupted, receiveHello } from '../guest-link/exchange.js';
import { PendingConnections } from '../guest-link/pending.js';
import { listenExclusively } from '../guest-link/socket.js';
import { removeSocket } from '../state/dir.js';
import type { AttachmentRecord } from '../model/record.js';
import { GuestSession } from './session.js';

// Connections that have not said hello yet. Each is dropped after the hello
// deadline and buffers at most one frame, so a flood of silent connections
// costs at most this many small sockets, and stays well above what hundreds
// of real guests reconnecting at once need. One guest's agent needs one.
const PENDING_LIMITS = { total: 1024, perSource: 16 };

type Waiter = { resolve: (c: GuestConfirmation) => void; reject: (e: Error) => void };

/**
 * The daemon's side of the guest socket. Guest agents stay connected; each is
 * bound to an attachment by the token it presents, configured as soon as it
 * says hello and again on every re-attach.
 */
export class GuestServer {
  private server: Server | undefined;
  private readonly sessions = new Map<string, GuestSession>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly lastApplies = new Map<string, LastApply>();
  /** What each connected guest last confirmed: an agent that said hello before its attach waited is not asked again. */
  private readonly confirmed = new Map<string, { config: string; confirmation: GuestConfirmation }>();
  /** The configuration each guest is applying now: a wait for the same one waits for it, rather than sending it again. */
  private readonly applying = new Map<string, string>();
  /** A guest can connect and fail before its attach starts waiting: the wait must still hear it. */
  private readonly unclaimedFailures = new Map<string, Error>();
  private readonly sockets = new Set<Socket>();
  private readonly pending: PendingConnections;

  constructor(
    private readonly socketPath: string,
    /** The attachment one of these link ids names (see protocol linkIdOf). */
    private readonly lookup: (linkIds: string[]) => AttachmentRecord | undefined,
    private readonly onRejected: (reason: string) => void,
    /** Hears connections dropped to keep a flood within limits (see PendingConnections); defaults to onRejected. */
    onDropped: (reason: string) => void = onRejected,
  ) {
    this.pending = new PendingConnections(PENDING_LIMITS, onDropped);
  }

  async start(): Promise<void> {
    this.server = await listenExclusively(this.socketPath, (socket) => this.accept(socket));
  }

  /** Closes every connection too: guests keep their network, their agents reconnect to the next daemon. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await removeSocket(this.socketPath, 'guest socket');
  }

  connected(token: string): boolean {
    return this.sessions.has(token);
  }

  lastApply(token: string): LastApply | undefined {
    return this.lastApplies.get(token);
  }

  /** Whether the guest of `record` has confirmed its configuration in a session that is still up. */
  hasConfirmed(record: AttachmentRecord): boolean {
    const known = this.confirmed.get(record.token);
    return known !== undefined && this.sessions.has(record.token) && known.config === JSON.stringify(guestConfigOf(record));
  }

  /** Resolves once the guest of `record` has confirmed its configuration, now or when it connects. */
  confirm(record: AttachmentRecord, timeoutMs: number, cancelled?: AbortSignal): Promise<GuestConfirmation> {
    return new Promise((resolve, reject) => {
      const onCancel = () => {
        this.dropWaiter(record.token, waiter);
        waiter.reject(interrupted('its caller hanging up'));
      };
      const timer = setTimeout(() => {
        this.dropWaiter(record.token, waiter);
        reject(
          new GuestTimeoutError(
            `the guest agent did not confirm within ${timeoutMs} ms; the host side was rolled back (use --no-wait to keep it without a guest agent)`,
          ),
        );
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        cancelled?.removeEventListener('abort', onCancel);
      };
      const waiter: Waiter = {
        resolve: (c) => {
          settle();
          resolve(c);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      };
      if (cancelled?.aborted) return onCancel();
      cancelled?.addEventListener('abort', onCancel, { once: true });
      const failure = this.unclaimedFailures.get(record.token);
      this.unclaimedFailures.delete(record.token);
      if (failure && !this.sessions.has(record.token)) return waiter.reject(failure);
      const known = this.confirmed.get(record.token);
      if (known && this.hasConfirmed(record)) return waiter.resolve(known.confirmation);
      const config = JSON.stringify(guestConfigOf(record));
      this.waiters.set(record.token, [...(this.waiters.get(record.token) ?? []), waiter]);
      if (this.sessions.has(record.token) && this.applying.get(record.token) !== config) void this.configure(record).catch(() => {});
    });
  }

  /** Ends the session of a detached guest, telling its agent to stop keeping the configuration. */
  forget(token: string): void {
    this.sessions.get(token)?.release();
    this.sessions.delete(token);
    this.lastApplies.delete(token);
    this.confirmed.delete(token);
    this.applying.delete(token);
    this.unclaimedFailures.delete(token);
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.pending.add(socket);
    const settle = () => this.pending.settle(socket);
    const connection = new FramedConnection<GuestMessage>(socket, parseGuestMessage);
    receiveHello(connection)
      .then((hello) => authenticate(connection, hello, this.lookup))
      .then(({ subject: record, auth, capabilities }) => {
        settle();
        this.sessions.get(record.token)?.close();
        const session = new GuestSession(connection, auth, capabilities);
        this.sessions.set(record.token, session);
        void session.ended.then((misbehaved) => {
          if (this.sessions.get(record.token) === session) {
            this.sessions.delete(record.token);
            this.confirmed.delete(record.token);
          }
          if (misbehaved) this.onRejected(excerpt(misbehaved, 120));
        });
        return this.configure(record);
      })
      .catch((error: Error) => {
        settle();
        this.onRejected(excerpt(error.message, 120));
        connection.destroy();
      });
  }

  private configure(record: AttachmentRecord): Promise<GuestConfirmation> {
    const session = this.sessions.get(record.token);
    if (!session) return Promise.reject(new Error('the guest agent is not connected'));
    const guestConfig = guestConfigOf(record);
    const config = JSON.stringify(guestConfig);
    const run = session.configure(guestConfig);
    this.applying.set(record.token, config);
    const done = () => this.applying.get(record.token) === config && this.applying.delete(record.token);
    const at = () => new Date().toISOString();
    return run.then(
      (confirmation) => {
        done();
        if (this.sessions.get(record.token) === session) this.confirmed.set(record.token, { config, confirmation });
        const { state } = confirmation;
        const lease = record.dhcp
          ? { lease: { address: state.address, prefixLength: state.prefixLength, gateway: state.gateway, dns: state.dns } }
          : {};
        this.lastApplies.set(record.token, { ok: true, at: at(), changes: confirmation.changes, ...lease });
        this.unclaimedFailures.delete(record.token);
        for (const waiter of this.takeWaiters(record.token)) waiter.resolve(confirmation);
        return confirmation;
      },
      (error: Error) => {
        done();
        this.confirmed.delete(record.token);
        this.lastApplies.set(record.token, { ok: false, at: at(), error: excerpt(error.message, 200) });
        const waiters = this.takeWaiters(record.token);
        if (waiters.length === 0) this.unclaimedFailures.set(record.token, error);
        for (const waiter of waiters) waiter.reject(error);
        session.close();
        throw error;
      },
    );
  }

  private takeWaiters(token: string): Waiter[] {
    const waiters = this.waiters.get(token) ?? [];
    this.waiters.delete(token);
    return waiters;
  }

  private dropWaiter(token: string, waiter: Waiter): void {
    const rest = (this.waiters.get(token) ?? []).filter((w) => w !== waiter);
    if (rest.length > 0) this.waiters.set(token, rest);
    else this.waiters.delete(token);
  }
}
