import type { ForeignSessionError } from '../guest-link/exchange.js';
import { type AttachmentRecord, tokenIsFirstName } from '../model/record.js';
import { rateLimited } from './rate-limit.js';

// A relay that passes a guest's own proof along makes each of its reconnects look like a leak: one new token in this long is enough.
const ROTATE_AT_MOST_EVERY_MS = 10_000;
// Rotations of first names wait for a moment with no attach or detach under way, and at most this long: a farm's boot goes first.
const FIRST_NAMES_WAIT_AT_MOST_MS = 2_000;
const FIRST_NAMES_LOOK_AGAIN_MS = 50;

/** What HostMemory tells of the daemon's attaches and detaches. */
export interface ChangesUnderWay {
  readonly idle: boolean;
  during<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * The daemon's answer to a token that is known where it should not be. A
 * token that turned up in another netns: the session is refused (guests.ts),
 * the refusal logged, and the guest's link gets a new token. A token that was
 * its link's one-time first name: the guest agent's rename wrote that name
 * into the host-wide kernel log, so once the guest is configured its link
 * gets a new token too, when the daemon is next idle. One rotation per guest
 * at a time; an attach that waits for that guest owns its record until it
 * settles, and the rotation waits too.
 */
export class LeakResponse {
  private readonly underWay = new Set<string>();
  private readonly heldBack = new Set<string>();
  private readonly rotatedAt = new Map<string, number>();
  /**
   * Guests configured under a token that was their first name, by id, each with the record it was configured under
   * and the name its agent confirmed giving the link (which spares the rotation a look).
   */
  private readonly firstNames = new Map<string, { record: AttachmentRecord; confirmedName: string | undefined }>();
  /** Per guest, a first-name token whose rotation found no link carrying it: its guest holds it back, and its sessions buy no retry. */
  private readonly withheld = new Map<string, string>();
  /** Per guest, a first-name token whose rotation failed once: a second failure holds it back (withheld). */
  private readonly failedOnce = new Map<string, string>();
  private firstNamesSince = 0;
  private firstNamesTimer: NodeJS.Timeout | undefined;
  /** At most a line a second, counting what it left out: sessions from elsewhere are limited per link, and links are many. */
  private readonly warn: (meta: Record<string, unknown>) => void;

  constructor(
    /** Resolves to the new record, or undefined when nothing was rotated (see AttachmentService.rotate). */
    private readonly rotate: (record: AttachmentRecord, confirmedName?: string) => Promise<AttachmentRecord | undefined>,
    private readonly log: (level: 'warn' | 'info' | 'error', message: string, meta: Record<string, unknown>) => void,
    /** The daemon's attaches and detaches: each rotation counts as one, and first names wait until none is under way. */
    private readonly changes: ChangesUnderWay = { idle: true, during: (work) => work() },
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

  /**
   * The guest of `current` (its record as the store holds it now) confirmed a
   * configuration, naming its link `confirmedName`. An attach that waits for
   * it rotates at its settling.
   */
  configured(current: AttachmentRecord | undefined, confirmedName: string): void {
    if (current && tokenIsFirstName(current) && !current.awaitingGuest) this.firstNameLogged(current, confirmedName);
  }

  /**
   * An attach of the guest `id` settled, leaving `record` (none if it failed),
   * its guest having named its link `confirmedName` if it confirmed: a
   * rotation it held back runs now.
   */
  settled(id: string, record: AttachmentRecord | undefined, confirmedName?: string): void {
    const held = this.heldBack.delete(id);
    if (!record) return;
    if (tokenIsFirstName(record)) this.firstNameLogged(record, confirmedName);
    else if (held) this.leaked(record);
  }

  /** Lets go of rotations not yet started: the daemon stops. */
  close(): void {
    clearTimeout(this.firstNamesTimer);
    this.firstNamesTimer = undefined;
    this.firstNames.clear();
    this.withheld.clear();
    this.failedOnce.clear();
  }

  private firstNameLogged(record: AttachmentRecord, confirmedName: string | undefined): void {
    if (this.withheld.get(record.id) === record.token) return;
    if (this.firstNames.size === 0) this.firstNamesSince = Date.now();
    this.firstNames.set(record.id, { record, confirmedName });
    // The reply to the attach goes out first.
    this.firstNamesTimer ??= setTimeout(() => this.rotateFirstNames(), 0);
  }

  private rotateFirstNames(): void {
    this.firstNamesTimer = undefined;
    if (!this.changes.idle && Date.now() - this.firstNamesSince < FIRST_NAMES_WAIT_AT_MOST_MS) {
      this.firstNamesTimer = setTimeout(() => this.rotateFirstNames(), FIRST_NAMES_LOOK_AGAIN_MS);
      return;
    }
    const due = [...this.firstNames.values()];
    this.firstNames.clear();
    for (const { record, confirmedName } of due)
      this.start(record, 'the kernel logged its old one as the link was renamed', false, confirmedName);
  }

  private leaked(record: AttachmentRecord): void {
    if (Date.now() - (this.rotatedAt.get(record.id) ?? 0) < ROTATE_AT_MOST_EVERY_MS) return;
    this.start(record, 'its old one was proved from another netns', true);
  }

  private noLinkCarries(record: AttachmentRecord): void {
    this.withheld.set(record.id, record.token);
    this.log('warn', 'a configured guest shows no link carrying its token, which stays the name the kernel logged', { id: record.id });
  }

  /** `forLeak`: a rotation for a proof from elsewhere opens the window in which more such proofs rotate nothing. */
  private start(record: AttachmentRecord, why: string, forLeak: boolean, confirmedName?: string): void {
    if (this.underWay.has(record.id)) return;
    this.underWay.add(record.id);
    this.changes
      .during(() => this.rotate(record, confirmedName))
      .then((rotated) => {
        if (!rotated && forLeak) return void this.heldBack.add(record.id);
        if (!rotated) return this.noLinkCarries(record);
        if (forLeak) this.rotatedAt.set(record.id, Date.now());
        this.log('info', `gave a guest link a new token: ${why}`, { id: record.id });
      })
      .catch((error: unknown) => {
        this.log('error', 'could not give a guest link a new token', { id: record.id, error });
        // A first name that failed twice fails alike at each of its guest's sessions: held back, as one nothing carries.
        if (!forLeak && this.failedOnce.get(record.id) === record.token) this.withheld.set(record.id, record.token);
        else if (!forLeak) this.failedOnce.set(record.id, record.token);
      })
      .finally(() => this.underWay.delete(record.id));
  }
}
