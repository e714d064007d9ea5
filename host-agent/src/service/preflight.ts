import { readlinkSync } from 'node:fs';
import { BadPidError, NotRootError } from '@guestnet/protocol';
import type { GuestIdentity } from '../model/record.js';

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new NotRootError(what);
}

/** A process guest, keyed by its pid. */
export async function processGuest(pid: number): Promise<GuestIdentity> {
  return { id: String(pid), pid, netnsPath: `/proc/${pid}/ns/net`, netns: await guestNetns(pid) };
}

/**
 * The guest's netns identity. The guest must exist and live in a netns other
 * than ours, or attach would wire the host to itself. Read on the spot: a
 * link of /proc answers at once, and a thread-pool round trip would be on
 * every attach's path.
 */
async function guestNetns(pid: number): Promise<string> {
  let guest: string;
  try {
    guest = readlinkSync(`/proc/${pid}/ns/net`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BadPidError(code === 'ENOENT' ? `no process with pid ${pid}` : `cannot read the netns of pid ${pid} (${code})`);
  }
  if (guest === readlinkSync('/proc/self/ns/net')) {
    throw new BadPidError(`pid ${pid} shares the host's network namespace; start the guest with its own (e.g. unshare --net)`);
  }
  return guest;
}
