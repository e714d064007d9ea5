import {
  describeError,
  type FramedConnection,
  type GuestConfig,
  type GuestMessage,
  PeerClosedError,
  ProtocolError,
} from '@guestnet/protocol';
import { exchange, type GuestConfirmation, type SessionAuth } from '../guest-link/exchange.js';

// Guest agents ping every 15 s when idle; three missed pings mean the agent is gone or hung.
export const SILENCE_LIMIT_MS = 45_000;

type ReplyWaiter = (reply: GuestMessage | Error) => void;

/**
 * One connected guest agent. A single reader takes every frame it sends:
 * pings are answered at once, an `applied` goes to the exchange waiting for
 * it, and anything else ends the session.
 */
export class GuestSession {
  /** Resolves when the session is over: with why, if the guest misbehaved. */
  readonly ended: Promise<string | undefined>;
  private queue: Promise<unknown> = Promise.resolve();
  private replyWaiter: ReplyWaiter | undefined;

  constructor(
    private readonly connection: FramedConnection<GuestMessage>,
    private readonly auth: SessionAuth,
    private readonly capabilities: readonly string[],
  ) {
    this.ended = this.read();
  }

  /** Exchanges on one session run one after another. */
  configure(config: GuestConfig): Promise<GuestConfirmation> {
    const run = this.queue.then(() =>
      exchange(
        config,
        this.auth,
        (m) => this.connection.send(m),
        (ms) => this.reply(ms),
        this.capabilities,
      ),
    );
    this.queue = run.catch(() => {});
    return run;
  }

  /** Tells the guest its attachment is gone, then closes. */
  release(): void {
    this.connection.end(this.auth.release());
  }

  close(): void {
    this.connection.destroy();
  }

  private reply(timeoutMs: number): Promise<GuestMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replyWaiter = undefined;
        reject(new ProtocolError(`the guest agent did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.replyWaiter = (reply) => {
        clearTimeout(timer);
        if (reply instanceof Error) reject(reply);
        else resolve(reply);
      };
    });
  }

  private async read(): Promise<string | undefined> {
    try {
      for (;;) {
        const message = await this.connection.next(SILENCE_LIMIT_MS);
        if (message === undefined) throw new ProtocolError(`the guest agent was silent for ${SILENCE_LIMIT_MS} ms`);
        if (message.type === 'ping') {
          this.connection.send({ type: 'pong', seq: message.seq });
        } else if (message.type === 'applied' && this.replyWaiter) {
          const waiter = this.replyWaiter;
          this.replyWaiter = undefined;
          waiter(message);
        } else {
          throw new ProtocolError(`unexpected ${message.type} from the guest`);
        }
      }
    } catch (error) {
      const failure = error instanceof Error ? error : new ProtocolError(String(error));
      this.replyWaiter?.(failure);
      this.replyWaiter = undefined;
      const { code, message } = describeError(failure);
      this.connection.end({ type: 'error', code, message });
      return failure instanceof PeerClosedError ? undefined : message;
    }
  }
}
