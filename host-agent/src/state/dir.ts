import { mkdirSync, type Stats, statSync } from 'node:fs';
import { lstat, rmdir, unlink } from 'node:fs/promises';
import { StateDirError } from '@guestnet/protocol';

const FILESYSTEM_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on its filesystem',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'its filesystem is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of its path is not a directory',
  EEXIST: 'a file is in the way',
  EISDIR: 'a directory is in the way',
};

/** A filesystem failure under the state or socket dir, as one line with exit 16; anything else unchanged. */
export function stateDirFailure(error: unknown, what: string): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  const reason = code ? FILESYSTEM_ERRORS[code] : undefined;
  return reason ? new StateDirError(`cannot write ${what}: ${reason} (${code})`) : error;
}

/**
 * Creates a directory guestnet keeps root-only state or sockets in (0700), or
 * checks the one that is there: it must be a directory owned by us that no
 * one else can write, or another user could plant files or sockets in it.
 */
export async function ensurePrivateDir(dir: string, what: string): Promise<void> {
  // Checked on the spot: every lock taken checks it, and a thread-pool round trip per call would cost more.
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw stateDirFailure(error, `the ${what} ${dir}`);
  }
  const found = statSync(dir);
  if (!found.isDirectory()) throw new StateDirError(`the ${what} ${dir} is not a directory`);
  const uid = process.getuid?.() ?? 0;
  if (found.uid !== uid || (found.mode & 0o022) !== 0) {
    const mode = (found.mode & 0o777).toString(8);
    throw new StateDirError(
      `refusing the ${what} ${dir}: mode ${mode}, owner uid ${found.uid}; others could write it (chown ${uid} ${dir} && chmod 700 ${dir})`,
    );
  }
}

/**
 * Removes `dir`, one of guestnet's own, once it is empty: the last detach
 * leaves no empty dir behind. rmdir removes only an empty dir, so one that
 * holds anything stays; failing to remove it is harmless and not reported.
 * Callers hold the state lock, under which every file in it is written.
 */
export async function removeEmptyDir(dir: string): Promise<void> {
  await rmdir(dir).catch(() => {});
}

/**
 * Removes the socket at `path`, if one is there. Anything else in its place
 * (a directory, a file, a symlink, planted by whoever can write the socket
 * dir) is not ours to remove: that is one line and exit 16, never EISDIR.
 */
export async function removeSocket(path: string, what: string): Promise<void> {
  const found = await lstat(path).catch((error: NodeJS.ErrnoException) =>
    error.code === 'ENOENT' ? undefined : Promise.reject(stateDirFailure(error, `the ${what} ${path}`)),
  );
  if (!found) return;
  if (!found.isSocket()) throw new StateDirError(`the ${what} ${path} is ${kindOf(found)}, not a socket; remove it if it is not needed`);
  // unlink, not rm: if something else took its place since, a directory is refused rather than emptied.
  await unlink(path).catch((error: NodeJS.ErrnoException) =>
    error.code === 'ENOENT' ? undefined : Promise.reject(stateDirFailure(error, `the ${what} ${path}`)),
  );
}

function kindOf(found: Stats): string {
  if (found.isDirectory()) return 'a directory';
  if (found.isSymbolicLink()) return 'a symbolic link';
  if (found.isFile()) return 'a regular file';
  return 'a special file';
}
