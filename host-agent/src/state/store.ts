import { type BigIntStats, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { linkIdOf } from '@guestnet/protocol';
import { recordPath, statePaths } from '../model/paths.js';
import { type AttachmentRecord, guestAddressesOf, hostEndOf, ID_PATTERN, type RecordOp } from '../model/record.js';
import type { Performer } from '../model/step.js';
import { parseRecord, recordWrites } from './records.js';

// The one copy of the records a process works from. It is loaded once and
// written through: the executor's record ops come here, the file is written
// (as a step, so a dry run prints it), and the store updates itself and
// tells its listeners. Other processes may write the state dir meanwhile (a
// CNI plugin, a one-shot CLI), always under the state lock: whoever takes the
// lock revalidates, which costs one stat while the dir is as it was left.

/** A record that came, changed or went: `before` is unset for a new one, `after` for one removed. */
export interface RecordChange {
  id: string;
  before: AttachmentRecord | undefined;
  after: AttachmentRecord | undefined;
}

/** A file as it was when read: records are only ever replaced by rename, which makes a new inode. */
type FileSeen = Pick<BigIntStats, 'ino' | 'mtimeNs' | 'size'>;
type DirSeen = Pick<BigIntStats, 'ino' | 'mtimeNs'> | 'absent';

/**
 * How long after a change a dir's mtime cannot tell it from the next one. A
 * kernel without fine-grained timestamps stamps a change with the time of the
 * last clock tick (at most 10 ms old at HZ=100): a change within that tick of
 * the one seen may leave the same mtime.
 */
const TICK_NS = 20_000_000n;

// The store looks at its files on the spot rather than through libuv's thread pool: each look is a stat of a small
// local file, and a revalidation of many records would otherwise wait for as many pool round trips.

/** What `read` gives, or undefined where the file is not there. */
function unlessMissing<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The names in `dir`; none when it cannot be listed. */
function listing(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const seenFile = (path: string): FileSeen | undefined =>
  unlessMissing(() => {
    const { ino, mtimeNs, size } = statSync(path, { bigint: true });
    return { ino, mtimeNs, size };
  });

const sameFile = (a: FileSeen | undefined, b: FileSeen) => a?.ino === b.ino && a.mtimeNs === b.mtimeNs && a.size === b.size;

const byPidThenId = (a: AttachmentRecord, b: AttachmentRecord) => (a.pid ?? Infinity) - (b.pid ?? Infinity) || a.id.localeCompare(b.id);

export class RecordStore {
  private readonly known = new Map<string, { record: AttachmentRecord; file: FileSeen | undefined }>();
  private readonly byLinkId = new Map<string, AttachmentRecord>();
  private readonly byHostLink = new Map<string, AttachmentRecord>();
  private readonly addresses = new Map<string, number>();
  private readonly listeners = new Set<(change: RecordChange) => void>();
  private sorted: AttachmentRecord[] | undefined;
  /**
   * The dir as last listed, and whether a change within the same tick could
   * have left it looking the same; unset until the first look, and after our
   * own writes.
   */
  private dir: { seen: DirSeen; racy: boolean } | undefined;

  constructor(readonly stateDir: string) {}

  /** Every record, by pid and then id. */
  all(): readonly AttachmentRecord[] {
    this.sorted ??= [...this.known.values()].map((k) => k.record).sort(byPidThenId);
    return this.sorted;
  }

  get size(): number {
    return this.known.size;
  }

  get(id: string): AttachmentRecord | undefined {
    return this.known.get(id)?.record;
  }

  /** The record whose token has this link id (protocol linkIdOf): how a guest's hello names it. */
  withLinkId(linkId: string): AttachmentRecord | undefined {
    return this.byLinkId.get(linkId);
  }

  /** The record whose host link is `name`. */
  withHostLink(name: string): AttachmentRecord | undefined {
    return this.byHostLink.get(name);
  }

  /** Whether `address` is an attached guest's, IPv4 or IPv6 (guestAddressesOf). */
  isGuestAddress(address: string): boolean {
    return this.addresses.has(address);
  }

  /** Hears every change, ours and those found on revalidating; returns how to stop. */
  onChange(listener: (change: RecordChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Brings the store in line with the dir: one stat while the dir is as last
   * seen, else a look at each file and a read of each that changed. Called
   * under the state lock, or in a process that only reads. A damaged record
   * fails it, and the store stays as it was.
   */
  async revalidate(): Promise<void> {
    const dir = statePaths(this.stateDir).attachments;
    // Taken before the stat: the stat itself comes no earlier.
    const seenAt = BigInt(Date.now()) * 1_000_000n;
    const seen = this.seenDir();
    if (this.dir && !this.dir.racy && sameDir(this.dir.seen, seen)) return;
    const names = seen === 'absent' ? [] : listing(dir);
    const ids = names.filter((name) => name.endsWith('.json') && ID_PATTERN.test(name.slice(0, -5))).map((name) => name.slice(0, -5));
    const found = ids.map((id) => this.reread(id, join(dir, `${id}.json`)));
    const next = new Map(found.flatMap((entry) => (entry ? [entry] : [])));
    for (const id of [...this.known.keys()]) if (!next.has(id)) this.set(id, undefined);
    for (const [id, entry] of next) if (this.known.get(id)?.record !== entry.record) this.set(id, entry.record, entry.file);
    this.dir = { seen, racy: seen !== 'absent' && seenAt - seen.mtimeNs < TICK_NS };
  }

  /**
   * Carries out a record op: each file is written or removed by `performer`
   * (atomically, by rename), then the store takes the change and tells its
   * listeners. A dry run only prints, and the store stays as it was.
   */
  async apply(op: RecordOp, performer: Performer, secrets?: readonly string[]): Promise<void> {
    for (const { step, id, after } of recordWrites(op, this.stateDir)) {
      await performer.perform(step, secrets);
      if (performer.dryRun) continue;
      this.set(id, after, seenFile(recordPath(this.stateDir, id)));
    }
    // Whoever writes next may do so within this tick, once the lock is ours no more: the next look lists the dir.
    if (!performer.dryRun) this.dir = undefined;
  }

  private reread(id: string, path: string): [string, { record: AttachmentRecord; file: FileSeen }] | undefined {
    const file = seenFile(path);
    // Gone between the listing and the look (a reaping detach), or empty: only a power cut leaves one empty.
    if (!file || file.size === 0n) return undefined;
    const known = this.known.get(id);
    if (known && sameFile(known.file, file)) return [id, { record: known.record, file }];
    const text = unlessMissing(() => readFileSync(path, 'utf8')) ?? '';
    return text === '' ? undefined : [id, { record: parseRecord(path, text), file }];
  }

  private seenDir(): DirSeen {
    const seen = unlessMissing(() => statSync(statePaths(this.stateDir).attachments, { bigint: true }));
    return seen ? { ino: seen.ino, mtimeNs: seen.mtimeNs } : 'absent';
  }

  private set(id: string, after: AttachmentRecord | undefined, file?: FileSeen): void {
    const before = this.known.get(id)?.record;
    if (before) this.unindex(before);
    if (after) {
      this.known.set(id, { record: after, file });
      this.index(after);
    } else this.known.delete(id);
    this.sorted = undefined;
    for (const listener of this.listeners) listener({ id, before, after });
  }

  private index(record: AttachmentRecord): void {
    this.byLinkId.set(linkIdOf(record.token), record);
    const hostEnd = hostEndOf(record);
    if (hostEnd !== undefined) this.byHostLink.set(hostEnd, record);
    for (const address of guestAddressesOf(record)) this.addresses.set(address, (this.addresses.get(address) ?? 0) + 1);
  }

  private unindex(record: AttachmentRecord): void {
    if (this.byLinkId.get(linkIdOf(record.token)) === record) this.byLinkId.delete(linkIdOf(record.token));
    const hostEnd = hostEndOf(record);
    if (hostEnd !== undefined && this.byHostLink.get(hostEnd) === record) this.byHostLink.delete(hostEnd);
    for (const address of guestAddressesOf(record)) {
      const count = (this.addresses.get(address) ?? 1) - 1;
      if (count > 0) this.addresses.set(address, count);
      else this.addresses.delete(address);
    }
  }
}

function sameDir(a: DirSeen, b: DirSeen): boolean {
  return a === 'absent' || b === 'absent' ? a === b : a.ino === b.ino && a.mtimeNs === b.mtimeNs;
}

/** The records of `stateDir` as they are now: for a process that only reads them. */
export async function readRecords(stateDir: string): Promise<readonly AttachmentRecord[]> {
  const store = new RecordStore(stateDir);
  await store.revalidate();
  return store.all();
}
