import { lstat, rm } from 'node:fs/promises';
import { SocketBusyError, StateDirError } from '@guestnet/protocol';
import { ownerOf, tryOwn } from '../state/lock.js';

/**
 * How to let go of what a daemon holds while it serves, in the order it took
 * it. A daemon lives or dies whole: a start that fails lets go of what it
 * took, and a stop lets go of everything, newest first, every step even
 * after one fails, so that no failure leaves a process that holds some of
 * it and serves no one.
 */
export class Holdings {
  private readonly releases: Array<() => unknown> = [];

  /** Called right after taking something: how to let go of it. */
  add(...releases: Array<() => unknown>): void {
    this.releases.push(...releases);
  }

  /** Lets go of everything; throws the first failure, naming the others. */
  async releaseAll(): Promise<void> {
    await everyStep(this.releases.splice(0).reverse());
  }

  /** Lets go of everything after `failure` (a start that failed); returns it, naming what failed in letting go too. */
  async releaseAfter(failure: unknown): Promise<unknown> {
    await this.releaseAll().catch((also: Error) => {
      if (failure instanceof Error) failure.message += `; stopping failed too: ${also.message}`;
    });
    return failure;
  }
}

/** Runs every step, in order, even after one fails, then throws the first failure with the others' messages. */
export async function everyStep(steps: Array<() => unknown>): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  const [first, ...rest] = failures;
  if (first === undefined) return;
  if (rest.length > 0 && first instanceof Error) {
    first.message += `; and: ${rest.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`;
  }
  throw first;
}

/** Takes the pid file that names the one daemon of `stateDir`; its release removes it only while it still names us. */
export async function ownPidFile(pidFile: string, stateDir: string): Promise<() => Promise<void>> {
  if (!(await tryOwn(pidFile))) throw new SocketBusyError(`host-agent serve (pid ${await ownerOf(pidFile)}) already serves ${stateDir}`);
  return async () => {
    if ((await ownerOf(pidFile)) === process.pid) await rm(pidFile, { force: true });
  };
}

/**
 * The sockets a daemon serves, as it bound them. Whoever can write a socket
 * dir can remove or replace a socket under a running daemon; a daemon that
 * goes on without it looks alive to a supervisor and to the CLI's probe, and
 * serves no one.
 */
export class BoundSockets {
  /** Each by its inode and birth time: an inode freed by a removal may be the next socket's. */
  private readonly bound: Array<{ what: string; path: string; ino: number; born: number }> = [];
  private lose: (error: StateDirError) => void = () => {};
  /** Settles, with the error to stop with, once one of them is gone or is something else. */
  readonly lost = new Promise<StateDirError>((resolve) => (this.lose = resolve));

  /** Remembers the sockets just bound, by what each is. */
  async add(sockets: Record<string, string>): Promise<void> {
    for (const [what, path] of Object.entries(sockets)) {
      // Removed between the bind and this look: as lost as if removed later.
      const now = await lstat(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
        throw error;
      });
      if (!now) this.lose(removedError(what, path, 'removed'));
      else this.bound.push({ what, path, ino: now.ino, born: now.birthtimeMs });
    }
  }

  /** Whether each is still the socket bound; when one is not, `lost` settles. */
  async intact(): Promise<boolean> {
    for (const { what, path, ino, born } of this.bound) {
      const now = await lstat(path).catch((error: NodeJS.ErrnoException) =>
        error.code === 'ENOENT' || error.code === 'ENOTDIR' ? undefined : 'unknown',
      );
      // A look that failed for another reason proves nothing: the next pass looks again.
      if (now === 'unknown' || (now?.isSocket() && now.ino === ino && now.birthtimeMs === born)) continue;
      this.lose(removedError(what, path, now ? 'replaced' : 'removed'));
      return false;
    }
    return true;
  }
}

function removedError(what: string, path: string, how: 'removed' | 'replaced'): StateDirError {
  return new StateDirError(`the ${what} ${path} was ${how} while this daemon served it; stopping`);
}
