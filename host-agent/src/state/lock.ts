import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '@guestnet/protocol';
import { pidAlive } from '@guestnet/runtime';
import { statePaths } from '../model/paths.js';

const LOCK_WAIT_MS = 15_000;

// Between the exclusive create and the pid landing in it, a lock reads as
// empty: that is a lock being taken, not an abandoned one.
const EMPTY_LOCK_GRACE_MS = 2000;

async function abandoned(path: string): Promise<boolean> {
  const [text, stat] = await Promise.all([fs.readFile(path, 'utf8').catch(() => ''), fs.stat(path).catch(() => undefined)]);
  if (!stat) return false;
  const owner = Number(text.trim());
  if (text.trim() === '') return Date.now() - stat.mtimeMs > EMPTY_LOCK_GRACE_MS;
  return !Number.isInteger(owner) || owner <= 0 || !pidAlive(owner);
}

/**
 * Creates `path` holding our pid, unless a live process owns it already. A
 * file left by a dead owner (kill -9) is taken over.
 */
export async function tryOwn(path: string): Promise<boolean> {
  for (;;) {
    try {
      await fs.writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!(await abandoned(path))) return false;
      await fs.rm(path, { force: true });
    }
  }
}

/** The pid in an owned file, if any. */
export async function ownerOf(path: string): Promise<number | undefined> {
  const owner = Number((await fs.readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isInteger(owner) && owner > 0 ? owner : undefined;
}

// Work of this process waits its turn here instead of polling the lock file.
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` while holding the state dir's lock, so concurrent attaches and
 * detaches (CLI, daemon, CNI) never pick the same name or address. Within one
 * process, work is queued; across processes the lock is a file created
 * exclusively, holding the owner's pid, and one whose owner died is taken over.
 */
export function withStateLock<T>(stateDir: string, work: () => Promise<T>): Promise<T> {
  const run = (queues.get(stateDir) ?? Promise.resolve()).then(() => holdingLock(stateDir, work));
  const tail = run.catch(() => {});
  queues.set(stateDir, tail);
  void tail.then(() => queues.get(stateDir) === tail && queues.delete(stateDir));
  return run;
}

async function holdingLock<T>(stateDir: string, work: () => Promise<T>): Promise<T> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = statePaths(stateDir).lock;
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (!(await tryOwn(path))) {
    if (Date.now() > deadline) throw new AgentError('socketBusy', `${stateDir} stayed locked (${path}) for over ${LOCK_WAIT_MS / 1000} s`);
    await sleep(20);
  }
  try {
    return await work();
  } finally {
    await fs.rm(path, { force: true });
  }
}
