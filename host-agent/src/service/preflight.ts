import { readlink, stat } from 'node:fs/promises';
import { BadPidError, NotRootError } from '@guestnet/protocol';
import { type AttachmentRecord, type GuestIdentity, hostEndOf, hostLinkAlias } from '../model/record.js';
import { existingLinksWithAliases } from '../observe.js';

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new NotRootError(what);
}

/** A process guest, keyed by its pid. */
export async function processGuest(pid: number): Promise<GuestIdentity> {
  return { id: String(pid), pid, netnsPath: `/proc/${pid}/ns/net`, netns: await guestNetns(pid) };
}

/**
 * The guest's netns identity. The guest must exist and live in a netns other
 * than ours, or attach would wire the host to itself.
 */
async function guestNetns(pid: number): Promise<string> {
  let guest: string;
  try {
    guest = await readlink(`/proc/${pid}/ns/net`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BadPidError(code === 'ENOENT' ? `no process with pid ${pid}` : `cannot read the netns of pid ${pid} (${code})`);
  }
  if (guest === (await readlink('/proc/self/ns/net'))) {
    throw new BadPidError(`pid ${pid} shares the host's network namespace; start the guest with its own (e.g. unshare --net)`);
  }
  return guest;
}

/** The netns at `path` as net:[inode], the form /proc/<pid>/ns/net links to; undefined if it is gone. */
export async function netnsAt(path: string): Promise<string | undefined> {
  return stat(path).then(
    (s) => `net:[${s.ino}]`,
    () => undefined,
  );
}

/**
 * Whether the guest a record describes still lives. A guest is its netns,
 * not the process attach was given: that process may exit while others keep
 * the netns. The same netns at the record's path answers at once (a reused
 * pid has another). Otherwise our tagged host link answers: a veth pair is
 * destroyed with the netns of either end, so while the host end is there,
 * the guest's netns is alive. Nothing pins the netns, so a guest whose last
 * process exits is gone, and reaped. (Its inode number alone proves nothing:
 * the kernel hands it to the next netns at once.)
 */
export async function guestAlive(record: AttachmentRecord): Promise<boolean> {
  if ((await netnsAt(record.netnsPath)) === record.netns) return true;
  const hostEnd = hostEndOf(record);
  if (!record.tagged || hostEnd === undefined) return false;
  return (await existingLinksWithAliases([hostEnd])).aliases.get(hostEnd) === hostLinkAlias(record);
}
