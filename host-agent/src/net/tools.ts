import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { MissingToolError } from '@guestnet/protocol';

/** Found without spawning anything: a PATH lookup costs microseconds. */
export async function onPath(binary: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  return Promise.any(dirs.map((dir) => access(join(dir, binary), constants.X_OK))).then(
    () => true,
    () => false,
  );
}

export interface Tool {
  binary: string;
  debianPackage: string;
}

// Tools found once are not looked for again: a long-lived daemon checks before each change, and a tool
// removed while it runs fails its command with a clear error anyway.
const found = new Set<string>();

export async function requireTools(tools: readonly Tool[]): Promise<void> {
  for (const tool of tools) {
    if (found.has(tool.binary)) continue;
    if (!(await onPath(tool.binary))) throw new MissingToolError(tool.binary, `the '${tool.debianPackage}' package`);
    found.add(tool.binary);
  }
}

export const BASE_TOOLS: readonly Tool[] = [
  { binary: 'ip', debianPackage: 'iproute2' },
  { binary: 'nsenter', debianPackage: 'util-linux' },
];
