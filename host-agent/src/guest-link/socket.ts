import { rename } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { SocketBusyError } from '@guestnet/protocol';
import { ensurePrivateDir, removeSocket, stateDirFailure } from '../state/dir.js';

/** Tells apart the names this process binds under. */
let bindings = 0;

function someoneListens(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Listens on the guests' socket. Refuses to take over a socket someone is
 * serving; a leftover socket from a dead agent is replaced, and anything
 * else in its place is refused (exit 16). The directory is
 * created 0700 and the socket 0600 from the moment it exists. `onConnection`
 * is in place before the first guest can connect: a connection with no
 * listener would be counted by the server and never closed. `pauseOnConnect`:
 * nothing is read from a connection until it is resumed.
 */
export async function listenExclusively(
  socketPath: string,
  onConnection: (socket: Socket) => void,
  options: { pauseOnConnect?: boolean } = {},
): Promise<Server> {
  await ensurePrivateDir(dirname(socketPath), 'socket dir');
  if (await someoneListens(socketPath)) {
    throw new SocketBusyError(`${socketPath} is already served by another guestnet agent`);
  }
  await removeSocket(socketPath, 'guest socket');
  // Node's close unlinks the path a server was bound to, whatever is there by then: a one-shot attach that took
  // the path since would lose its socket. Bound under a name of its own and renamed into place, the server's
  // close removes nothing at the path; removing the socket is its owner's, done while it still listens.
  const bound = join(dirname(socketPath), `.${basename(socketPath)}.${process.pid}.${++bindings}`);
  await removeSocket(bound, 'guest socket');
  const server = createServer({ pauseOnConnect: options.pauseOnConnect ?? false }, onConnection);
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  try {
    await rename(bound, socketPath);
  } catch (error) {
    await new Promise<void>((done) => server.close(() => done()));
    throw stateDirFailure(error, `the guest socket ${socketPath}`);
  }
  return server;
}
