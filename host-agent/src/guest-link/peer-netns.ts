import { promises as fs } from 'node:fs';
import type { Socket } from 'node:net';

// Node gives no SO_PEERCRED. But the server's end of a unix connection is
// created in the netns of the client that connected, and /proc/<pid>/net/unix
// lists the sockets of that pid's netns: finding our end's inode there names
// the client's netns.

/** Our end's inode, from the fd node keeps behind the socket. */
async function inodeOf(socket: Socket): Promise<string | undefined> {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const link = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => '');
  return /^socket:\[(\d+)\]$/.exec(link)?.[1];
}

/** One process per netns on this host, as netns -> pid. */
async function oneProcessPerNetns(): Promise<Map<string, string>> {
  const pids = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const found = new Map<string, string>();
  await Promise.all(
    pids.map(async (pid) => {
      const netns = await fs.readlink(`/proc/${pid}/ns/net`).catch(() => undefined);
      if (netns !== undefined && !found.has(netns)) found.set(netns, pid);
    }),
  );
  return found;
}

/** The inodes column of /proc/<pid>/net/unix. */
async function unixInodes(pid: string): Promise<Set<string>> {
  const table = await fs.readFile(`/proc/${pid}/net/unix`, 'utf8').catch(() => '');
  return new Set(
    table
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[6] ?? '')
      .filter(Boolean),
  );
}

/** The netns (as net:[inode]) each socket's client connected from; sockets it cannot tell are left out. */
export async function peerNetnsOf(sockets: Socket[]): Promise<Map<Socket, string>> {
  const result = new Map<Socket, string>();
  const byInode = new Map<string, Socket>();
  for (const [socket, inode] of await Promise.all(sockets.map(async (s) => [s, await inodeOf(s)] as const))) {
    if (inode !== undefined) byInode.set(inode, socket);
  }
  if (byInode.size === 0) return result;
  for (const [netns, pid] of await oneProcessPerNetns()) {
    for (const inode of await unixInodes(pid)) {
      const socket = byInode.get(inode);
      if (!socket) continue;
      result.set(socket, netns);
      byInode.delete(inode);
    }
    if (byInode.size === 0) break;
  }
  return result;
}
