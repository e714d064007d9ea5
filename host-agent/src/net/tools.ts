import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { MissingToolError } from '@guestnet/protocol';

// Tools found once are not looked for again: a long-lived daemon checks before each change, and a tool
// removed while it runs fails its command with a clear error anyway.
const found = new Set<string>();

/**
 * Found without spawning anything: a PATH lookup costs microseconds. A tool
 * found is not looked for again (see `found`): the first attach on a host
 * asks which firewall tools there are, and each look is a thread-pool round
 * trip per PATH entry.
 */
export async function onPath(binary: string): Promise<boolean> {
  if (found.has(binary)) return true;
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  const there = await Promise.any(dirs.map((dir) => access(join(dir, binary), constants.X_OK))).then(
    () => true,
    () => false,
  );
  if (there) found.add(binary);
  return there;
}

export interface Tool {
  binary: string;
  debianPackage: string;
}

export async function requireTools(tools: readonly Tool[]): Promise<void> {
  for (const tool of tools) {
    if (!(await onPath(tool.binary))) throw new MissingToolError(tool.binary, `the '${tool.debianPackage}' package`);
  }
}

export const BASE_TOOLS: readonly Tool[] = [
  { binary: 'ip', debianPackage: 'iproute2' },
  { binary: 'nsenter', debianPackage: 'util-linux' },
];
