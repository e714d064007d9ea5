import { constants } from 'node:fs';
import { access, readlink } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { BadPidError, MissingToolError, NotRootError } from '@guestnet/protocol';
import type { GuestIdentity } from './state.js';

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new NotRootError(what);
}

/** Found without spawning anything: a PATH lookup costs microseconds. */
export async function onPath(binary: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  return Promise.any(dirs.map((dir) => access(join(dir, binary), constants.X_OK))).then(
    () => true,
    () => false,
  );
}

export async function requireTools(tools: Array<{ binary: string; debianPackage: string }>): Promise<void> {
  for (const tool of tools) {
    if (!(await onPath(tool.binary))) throw new MissingToolError(tool.binary, `the '${tool.debianPackage}' package`);
  }
}

export const BASE_TOOLS = [
  { binary: 'ip', debianPackage: 'iproute2' },
  { binary: 'nsenter', debianPackage: 'util-linux' },
];

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
