import type { ForeignSessionError } from '../guest-link/exchange.js';
import type { AttachmentRecord } from '../model/record.js';
import { rateLimited } from './rate-limit.js';

// A relay that passes a guest's own proof along makes each of its reconnects look like a leak: one new token in this long is enough.
const ROTATE_AT_MOST_EVERY_MS = 10_000;

/**
 * The daemon's answer to a token that turned up in another netns: the
 * session is refused (guests.ts), the refusal logged, and the guest's link
 * gets a new token, one rotation per guest at a time. An attach that waits
 * for that guest owns its record until it settles: the rotation waits too.
 */
export class LeakResponse {
  private readonly underWay = new Set<string>();
  private readonly heldBack = new Set<string>();
  private readonly rotatedAt = new Map<string, number>();
  /** At most a line a second, counting what it left out: sessions from elsewhere are limited per link, and links are many. */
  private readonly warn: (meta: Record<string, unknown>) => void;

  constructor(
    /** Resolves to the new record, or undefined when nothing was rotated (see AttachmentService.rotate). */
    private readonly rotate: (record: AttachmentRecord) => Promise<AttachmentRecord | undefined>,
    private readonly log: (level: 'warn' | 'info' | 'error', message: string, meta: Record<string, unknown>) => void,
  ) {
    let meta: Record<string, unknown> = {};
    const line = rateLimited((_, suppressed) =>
      log('warn', 'refused a guest session from another netns', { ...meta, ...(suppressed ? { suppressed } : {}) }),
    );
    this.warn = (next) => {
      meta = next;
      line('');
    };
  }

  /** A session for `record`'s link from another netns was refused. */
  refused(record: AttachmentRecord, refusal: ForeignSessionError): void {
    this.warn({ id: record.id, from: refusal.source ?? 'unknown', proof: refusal.validProof ? 'valid' : 'invalid' });
    if (refusal.validProof) this.leaked(record);
  }

  /** An attach of the guest `id` settled, leaving `record` (none if it failed): a rotation it held back runs now. */
  settled(id: string, record: AttachmentRecord | undefined): void {
    if (this.heldBack.delete(id) && record) this.leaked(record);
  }

  private leaked(record: AttachmentRecord): void {
    if (this.underWay.has(record.id) || Date.now() - (this.rotatedAt.get(record.id) ?? 0) < ROTATE_AT_MOST_EVERY_MS) return;
    this.underWay.add(record.id);
    this.rotate(record)
      .then((rotated) => {
        if (!rotated) return void this.heldBack.add(record.id);
        this.rotatedAt.set(record.id, Date.now());
        this.log('info', 'gave a guest link a new token: its old one was proved from another netns', { id: record.id });
      })
      .catch((error: unknown) => this.log('error', 'could not give a guest link a new token', { id: record.id, error }))
      .finally(() => this.underWay.delete(record.id));
  }
}
