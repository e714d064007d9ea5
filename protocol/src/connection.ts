import type { Socket } from 'node:net';
import { AgentError, PeerClosedError, ProtocolError } from './errors.js';
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from './framing.js';

// The exchange is strictly request/response, so a peer never has a reason to
// queue more than a couple of frames ahead. More than this is flooding.
const MAX_QUEUED_MESSAGES = 4;

type Waiter<T> = { resolve: (message: T) => void; reject: (error: Error) => void };

/**
 * A socket that yields validated messages one at a time. Any bad frame, any
 * message that fails `parse`, or the peer hanging up fails the pending
 * `receive` and destroys the socket; nothing is thrown out of an event handler.
 */
export class FramedConnection<In> {
  private readonly decoder: FrameDecoder;
  private readonly queue: In[] = [];
  private waiter: Waiter<In> | undefined;
  private failure: Error | undefined;
  private ending = false;

  constructor(
    private readonly socket: Socket,
    private readonly parse: (raw: unknown) => In,
    private readonly maxFrameBytes = MAX_FRAME_BYTES,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => {
      if (this.decoder.buffered > 0) this.fail(new ProtocolError('peer closed the connection in the middle of a frame'));
      else this.fail(new PeerClosedError('peer closed the connection'));
    });
  }

  send(message: unknown): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(message, this.maxFrameBytes));
  }

  /** The next message, or a rejection on protocol error, hang-up or timeout. */
  async receive(timeoutMs: number): Promise<In> {
    const message = await this.next(timeoutMs);
    if (message === undefined) throw new ProtocolError(`no message within ${timeoutMs} ms`);
    return message;
  }

  /**
   * The next message, or undefined once `idleMs` pass without one: for
   * long-lived sessions where silence is normal and only a hang-up is a failure.
   */
  next(idleMs: number): Promise<In | undefined> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<In | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, idleMs);
      this.waiter = {
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /**
   * Sends a last message (if any) and closes once it is flushed. The socket is
   * destroyed after a second even if the peer never closes its side.
   */
  end(message?: unknown): void {
    if (this.socket.destroyed || this.ending) return;
    this.ending = true;
    if (message === undefined) this.socket.end();
    else this.socket.end(encodeFrame(message, this.maxFrameBytes));
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Closes at once, unless end() is already flushing a last message. */
  destroy(): void {
    if (!this.ending) this.socket.destroy();
  }

  /** Resolves when the socket is closed, whoever closed it. */
  get closed(): Promise<void> {
    return new Promise((resolve) => (this.socket.destroyed ? resolve() : this.socket.once('close', () => resolve())));
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    try {
      for (const raw of this.decoder.push(chunk)) this.deliver(this.parse(raw));
    } catch (error) {
      const reason = error instanceof Error ? error : new ProtocolError(String(error));
      this.fail(reason);
      this.hangUp({ type: 'error', code: error instanceof AgentError ? error.code : 'guestProtocol', message: reason.message });
    }
  }

  // Tells the peer why, then stops reading.
  private hangUp(last: unknown): void {
    this.socket.pause();
    this.end(last);
  }

  private deliver(message: In): void {
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(message);
      return;
    }
    if (this.queue.length >= MAX_QUEUED_MESSAGES) throw new ProtocolError('too many frames without an answer');
    this.queue.push(message);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(this.failure);
    }
  }
}
