import { createHash } from 'node:crypto';
import { promises as fs, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '@guestnet/protocol';
import { pidAlive } from '@guestnet/runtime';
import { ensurePrivateDir } from './dir.js';

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
 * file left by a dead owner (kill -9) is taken over. Only the daemon's pid
 * file uses this, to name the daemon that already serves a state dir.
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

// Work of this process waits its turn here; other processes wait on the lock.
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` while holding the state dir's lock, so concurrent attaches and
 * detaches (CLI, daemon, CNI) never pick the same name or address. Within one
 * process, work is queued. Across processes the lock is an abstract unix
 * socket named after the state dir: binding it is atomic, and the kernel
 * releases it when its holder exits or is killed, so there is never a stale
 * lock to take over. Abstract names live in a network namespace: every agent
 * of a state dir runs in the host's.
 */
export function withStateLock<T>(stateDir: string, work: () => Promise<T>): Promise<T> {
  const run = (queues.get(stateDir) ?? Promise.resolve()).then(() => holdingLock(stateDir, work));
  const tail = run.catch(() => {});
  queues.set(stateDir, tail);
  void tail.then(() => queues.get(stateDir) === tail && queues.delete(stateDir));
  return run;
}

/** The lock's abstract socket name: the state dir's device and inode, so every path to it agrees. */
function lockName(stateDir: string): string {
  const { dev, ino } = statSync(stateDir);
  return `\0guestnet-lock-${createHash('sha256').update(`${dev}:${ino}`).digest('hex').slice(0, 32)}`;
}

/** Binds the lock's name; undefined while another process holds it. */
function bind(name: string): Promise<Server | undefined> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error)));
    server.listen({ path: name }, () => resolve(server.unref()));
  });
}

async function holdingLock<T>(stateDir: string, work: () => Promise<T>): Promise<T> {
  await ensurePrivateDir(stateDir, 'state dir');
  const name = lockName(stateDir);
  const deadline = Date.now() + LOCK_WAIT_MS;
  let held = await bind(name);
  while (!held) {
    if (Date.now() > deadline)
      throw new AgentError('socketBusy', `${stateDir} stayed locked by another guestnet process for over ${LOCK_WAIT_MS / 1000} s`);
    await sleep(20);
    held = await bind(name);
  }
  try {
    return await work();
  } finally {
    held.close();
  }
}
