import type { ForeignSessionError } from '../guest-link/exchange.js';
import type { AttachmentRecord } from '../model/record.js';

/**
 * The daemon's answer to a token that turned up in another netns: the
 * session is refused (guests.ts), the refusal logged, and the guest's link
 * gets a new token, one rotation per guest at a time. An attach that waits
 * for that guest owns its record until it settles: the rotation waits too.
 */
export class LeakResponse {
  private readonly underWay = new Set<string>();
  private readonly heldBack = new Set<string>();

  constructor(
    /** Resolves to the new record, or undefined when nothing was rotated (see AttachmentService.rotate). */
    private readonly rotate: (record: AttachmentRecord) => Promise<AttachmentRecord | undefined>,
    private readonly log: (level: 'warn' | 'info' | 'error', message: string, meta: Record<string, unknown>) => void,
  ) {}

  /** A session for `record`'s link from another netns was refused. */
  refused(record: AttachmentRecord, refusal: ForeignSessionError): void {
    const meta = { id: record.id, from: refusal.source ?? 'unknown', proof: refusal.validProof ? 'valid' : 'invalid' };
    this.log('warn', 'refused a guest session from another netns', meta);
    if (refusal.validProof) this.leaked(record);
  }

  /** An attach of the guest of `record` settled: a rotation it held back runs now. */
  settled(record: AttachmentRecord): void {
    if (this.heldBack.delete(record.id)) this.leaked(record);
  }

  private leaked(record: AttachmentRecord): void {
    if (this.underWay.has(record.id)) return;
    this.underWay.add(record.id);
    this.rotate(record)
      .then((rotated) => {
        if (rotated) this.log('info', 'gave a guest link a new token: its old one was proved from another netns', { id: record.id });
        else this.heldBack.add(record.id);
      })
      .catch((error: unknown) => this.log('error', 'could not give a guest link a new token', { id: record.id, error }))
      .finally(() => this.underWay.delete(record.id));
  }
}
