import { randomBytes } from 'node:crypto';
import { closeSync, constants, promises as fs, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Write-to-temp, fsync, rename, fsync the directory: readers see the old file
 * or the new one, never half of one, and a crash or power cut keeps one of
 * them. The temp name is random and opened with O_EXCL|O_NOFOLLOW, so a link
 * planted in the directory is never followed; a failed write removes it.
 * `durable: false` skips the two fsyncs, for files that describe only the
 * running process (a status file in /run) and mean nothing after a power cut.
 */
export async function writeAtomically(
  path: string,
  content: string | Buffer,
  options: { mode?: number; durable?: boolean } = {},
): Promise<void> {
  const { mode = 0o600, durable = true } = options;
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  if (!durable) return writeUnsynced(path, temporary, content, mode);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const handle = await fs.open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    try {
      await handle.writeFile(content);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, path);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
  if (!durable) return;
  const directory = await fs.open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/**
 * The same write without the syncs, done on the spot: with no fsync it
 * waits on no disk, and each of its five steps would otherwise be a round
 * trip through libuv's thread pool, which an attach pays on its critical
 * path (a record, a status file) whenever the host is busy.
 */
function writeUnsynced(path: string, temporary: string, content: string | Buffer, mode: number): void {
  const fd = openTemporary(temporary, mode);
  try {
    try {
      writeFileSync(fd, content);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** The temporary file, created; its directory is made only when it is missing, which is seldom: a look less on every write. */
function openTemporary(temporary: string, mode: number): number {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  try {
    return openSync(temporary, flags, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dirname(temporary), { recursive: true, mode: 0o700 });
    return openSync(temporary, flags, mode);
  }
}

/**
 * A small file of /proc, /sys or a state dir, read on the spot rather than
 * through libuv's thread pool, whose round trip costs more than such a read;
 * as a promise that fails as fs.promises.readFile would, so callers need not
 * care.
 */
export function readSmallFile(path: string): Promise<string> {
  try {
    return Promise.resolve(readFileSync(path, 'utf8'));
  } catch (error) {
    return Promise.reject(error);
  }
}
