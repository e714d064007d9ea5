import type { Server, Socket } from 'node:net';
import {
  excerpt,
  FramedConnection,
  GuestTimeoutError,
  type GuestMessage,
  type LastApply,
  parseGuestMessage,
  redact,
  secretsOf,
} from '@guestnet/protocol';
import { type Admitted, GuestAdmission } from '../guest-link/admission.js';
import { guestConfigOf } from '../guest-link/configure.js';
import {
  authenticate,
  ForeignSessionError,
  type GuestConfirmation,
  interrupted,
  receiveHello,
  RefusedSessionError,
} from '../guest-link/exchange.js';
import { ConnectionGate } from '../guest-link/gate.js';
import { PendingConnections } from '../guest-link/pending.js';
import { PeerNetns } from '../guest-link/peer-netns.js';
import { listenExclusively } from '../guest-link/socket.js';
import { removeSocket } from '../state/dir.js';
import { type AttachmentRecord, hasGuestLink } from '../model/record.js';
import { GuestSession } from './session.js';

// Connections that have not said hello yet. Each is dropped after the hello
// deadline and buffers at most one frame, so a flood of silent connections
// costs at most this many small sockets, and stays well above what hundreds
// of real guests reconnecting at once need. One guest's agent needs one.
const PENDING_LIMITS = { total: 1024, perSource: 16 };
// A guest agent opens a session when it starts and when it reconnects, backing off; a guest that loops gets no more.
const ADMISSION_LIMITS = {
  sessions: { burst: 16, perSecond: 4 },
  foreign: { burst: 8, perSecond: 1 },
  looks: { burst: 32, perSecond: 16, maxWaitMs: 3000 },
  busyAnswerMs: 1000,
};
// Far above what guests reconnecting after a restart need: beyond it, each netns is held to its own rate.
const GATE_LIMITS = { calm: { burst: 256, perSecond: 64 }, perNetns: { burst: 32, perSecond: 8 }, maxNetns: 1024 };

type Waiter = { resolve: (c: GuestConfirmation) => void; reject: (e: Error) => void };

/** What the link wants of its guest: the token is no part of it, so a new token is no new configuration. */
const wanted = (record: AttachmentRecord) => {
  const { token: _, ...config } = guestConfigOf(record);
  return JSON.stringify(config);
};

/** Whether the guest of `before` must be told `after`: it has a link, and what the link wants of it differs (a new MTU, IPv6 gained or lost). */
export const guestConfigChanged = (before: AttachmentRecord, after: AttachmentRecord): boolean =>
  hasGuestLink(before) && hasGuestLink(after) && wanted(before) !== wanted(after);

export interface GuestServerOptions {
  /** The attachment one of these link ids names (see protocol linkIdOf). */
  lookup: (linkIds: string[]) => AttachmentRecord | undefined;
  /** Every attachment: a connection's netns is looked for among theirs (and those seen lately), never all the host's. */
  attachments: () => readonly AttachmentRecord[];
  onRejected: (reason: string) => void;
  /** Hears connections dropped to keep a flood within limits (see PendingConnections); defaults to onRejected. */
  onDropped?: (reason: string) => void;
  /** Hears connections closed unread for coming faster than their netns may (see ConnectionGate); defaults to onDropped. */
  onOverRate?: (reason: string) => void;
  /** Hears connections dropped because too many wait to say hello from everyone together; defaults to onDropped. */
  onCrowded?: (reason: string) => void;
  /** Hears a session refused for coming from a netns other than its link's guest's; with a valid proof, the token leaked. */
  onForeign?: (record: AttachmentRecord, refusal: ForeignSessionError) => void;
  /** Hears each configuration a guest confirmed, after whoever waited for it. */
  onConfigured?: (record: AttachmentRecord, confirmation: GuestConfirmation) => void;
  /** Where connections come from, and their budgets; tests without netns stand in for it. */
  admission?: {
    admit(socket: Socket, expected: AttachmentRecord): Promise<Admitted>;
    sourcesOf(sockets: Socket[]): Promise<Map<Socket, string>>;
  };
}

/**
 * The daemon's side of the guest socket. Guest agents stay connected; each is
 * bound to an attachment by the token it proves, from that attachment's own
 * netns, configured as soon as it says hello and again on every re-attach.
 * What it knows of each guest is keyed by the attachment's id, which a new
 * token leaves as it is.
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
  private readonly gate: ConnectionGate;
  private readonly admission: NonNullable<GuestServerOptions['admission']>;

  constructor(
    private readonly socketPath: string,
    private readonly options: GuestServerOptions,
  ) {
    this.admission = options.admission ?? new GuestAdmission(ADMISSION_LIMITS, new PeerNetns(options.attachments));
    const onDropped = options.onDropped ?? options.onRejected;
    this.pending = new PendingConnections(
      PENDING_LIMITS,
      onDropped,
      (sockets) => this.admission.sourcesOf(sockets),
      options.onCrowded ?? onDropped,
    );
    this.gate = new ConnectionGate(GATE_LIMITS, (sockets) => this.admission.sourcesOf(sockets), options.onOverRate ?? onDropped);
  }

  async start(): Promise<void> {
    this.server = await listenExclusively(this.socketPath, (socket) => this.accept(socket), { pauseOnConnect: true });
  }

  /** Closes every connection too: guests keep their network, their agents reconnect to the next daemon. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await removeSocket(this.socketPath, 'guest socket');
  }

  /** Whether the guest of attachment `id` has a session. */
  connected(id: string): boolean {
    return this.sessions.has(id);
  }

  lastApply(id: string): LastApply | undefined {
    return this.lastApplies.get(id);
  }

  /** Whether the guest of `record` has confirmed its configuration in a session that is still up. */
  hasConfirmed(record: AttachmentRecord): boolean {
    const known = this.confirmed.get(record.id);
    return known !== undefined && this.sessions.has(record.id) && known.config === wanted(record);
  }

  /** Resolves once the guest of `record` has confirmed its configuration, now or when it connects. */
  confirm(record: AttachmentRecord, timeoutMs: number, cancelled?: AbortSignal): Promise<GuestConfirmation> {
    return new Promise((resolve, reject) => {
      const onCancel = () => {
        this.dropWaiter(record.id, waiter);
        waiter.reject(interrupted('its caller hanging up'));
      };
      const timer = setTimeout(() => {
        this.dropWaiter(record.id, waiter);
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
      const failure = this.unclaimedFailures.get(record.id);
      this.unclaimedFailures.delete(record.id);
      if (failure && !this.sessions.has(record.id)) return waiter.reject(failure);
      const known = this.confirmed.get(record.id);
      if (known && this.hasConfirmed(record)) return waiter.resolve(known.confirmation);
      const config = wanted(record);
      this.waiters.set(record.id, [...(this.waiters.get(record.id) ?? []), waiter]);
      if (this.sessions.has(record.id) && this.applying.get(record.id) !== config) void this.configure(record).catch(() => {});
    });
  }

  /**
   * Ends the session of a detached guest (attachment `id`), telling its agent
   * to stop keeping the configuration. An attach still waiting for it waits
   * on to its timeout: a later attachment of the same guest is not its own.
   */
  forget(id: string): void {
    this.waiters.delete(id);
    this.sessions.get(id)?.release();
    this.sessions.delete(id);
    this.lastApplies.delete(id);
    this.confirmed.delete(id);
    this.applying.delete(id);
    this.unclaimedFailures.delete(id);
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.pending.add(socket);
    void this.gate.pass(socket).then((pass) => (pass ? this.greet(socket) : socket.destroy()));
  }

  /** Reads the hello of a connection the gate let through. */
  private greet(socket: Socket): void {
    const settle = () => this.pending.settle(socket);
    const connection = new FramedConnection<GuestMessage>(socket, parseGuestMessage);
    socket.resume();
    let claimed: AttachmentRecord | undefined;
    const admit = (record: AttachmentRecord) => {
      claimed = record;
      return this.admission.admit(socket, record);
    };
    receiveHello(connection)
      .then((hello) => authenticate(connection, hello, this.options.lookup, admit))
      .then(({ subject: record, auth, capabilities }) => {
        settle();
        // Only a session from the guest's own netns gets here: it replaces that guest's older one.
        this.sessions.get(record.id)?.close();
        const session = new GuestSession(connection, auth, capabilities);
        this.sessions.set(record.id, session);
        void session.ended.then((misbehaved) => {
          if (this.sessions.get(record.id) === session) {
            this.sessions.delete(record.id);
            this.confirmed.delete(record.id);
          }
          if (misbehaved) this.options.onRejected(shown(misbehaved, record));
        });
        return this.configure(record);
      })
      .catch((error: Error) => {
        settle();
        connection.destroy();
        if (error instanceof ForeignSessionError && claimed && this.options.onForeign) this.options.onForeign(claimed, error);
        else if (error instanceof RefusedSessionError && error.admission === 'drop')
          (this.options.onDropped ?? this.options.onRejected)(error.message);
        else this.options.onRejected(shown(error.message, claimed));
      });
  }

  private configure(record: AttachmentRecord): Promise<GuestConfirmation> {
    const session = this.sessions.get(record.id);
    if (!session) return Promise.reject(new Error('the guest agent is not connected'));
    const config = wanted(record);
    const run = session.configure(guestConfigOf(record));
    this.applying.set(record.id, config);
    const done = () => this.applying.get(record.id) === config && this.applying.delete(record.id);
    const at = () => new Date().toISOString();
    return run.then(
      (confirmation) => {
        done();
        if (this.sessions.get(record.id) === session) this.confirmed.set(record.id, { config, confirmation });
        const { state } = confirmation;
        const lease =
          hasGuestLink(record) && record.dhcp
            ? { lease: { address: state.address, prefixLength: state.prefixLength, gateway: state.gateway, dns: state.dns } }
            : {};
        this.lastApplies.set(record.id, { ok: true, at: at(), changes: confirmation.changes, ...lease });
        this.unclaimedFailures.delete(record.id);
        for (const waiter of this.takeWaiters(record.id)) waiter.resolve(confirmation);
        this.options.onConfigured?.(record, confirmation);
        return confirmation;
      },
      (error: Error) => {
        done();
        this.confirmed.delete(record.id);
        this.lastApplies.set(record.id, { ok: false, at: at(), error: shown(error.message, record, 200) });
        const waiters = this.takeWaiters(record.id);
        if (waiters.length === 0) this.unclaimedFailures.set(record.id, error);
        for (const waiter of waiters) waiter.reject(error);
        session.close();
        throw error;
      },
    );
  }

  private takeWaiters(id: string): Waiter[] {
    const waiters = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    return waiters;
  }

  private dropWaiter(id: string, waiter: Waiter): void {
    const rest = (this.waiters.get(id) ?? []).filter((w) => w !== waiter);
    if (rest.length > 0) this.waiters.set(id, rest);
    else this.waiters.delete(id);
  }
}

/** What a guest said, or what failed with it, as logs and status show it: short, and without its token. */
const shown = (text: string, record: AttachmentRecord | undefined, max = 120) =>
  excerpt(redact(text, record ? secretsOf(record.token) : []), max);
