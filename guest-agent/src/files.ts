import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';

/** Readers see the old file or the new one, never half of it. */
export async function writeAtomically(path: string, content: string | Buffer): Promise<void> {
  await fs.mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.guestnet.tmp`;
  await fs.writeFile(temporary, content, { mode: 0o644 });
  await fs.rename(temporary, path);
}
