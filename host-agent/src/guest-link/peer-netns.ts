import { promises as fs } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

// Node gives no SO_PEERCRED. But the server's end of a unix connection is
// created in the netns of the client that connected, and /proc/<pid>/net/unix
// lists the sockets of that pid's netns: finding our end's inode there names
// the client's netns. The kernel keeps that table; a client cannot forge it.

/** Where a guest is: its netns, and the process attach was given, which may have exited while the netns lives on. */
export interface NetnsHint {
  netns: string;
  pid?: number | undefined;
}

/** `unknown`: no process of that netns could be found, or its table was too large to read whole. */
export type FromNetns = 'yes' | 'no' | 'unknown';

// A guest decides the size of its own table: what is read of it is bounded.
const MAX_TABLE_BYTES = 4 * 1024 * 1024;
// Looking at every process is the expensive part: at most once in this long.
const RESCAN_AFTER_MS = 1000;
// Netns looked in first: a flood comes from one netns, found at the first look.
const RECENT_NETNS = 4;

/** The netns of every connection the host cannot tell, as the budgets and the log name it: they share one budget. */
export const UNTOLD_NETNS = 'an untold netns';

/** Our end's inode, from the fd node keeps behind the socket. */
async function inodeOf(socket: Socket): Promise<string | undefined> {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const link = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => '');
  return /^socket:\[(\d+)\]$/.exec(link)?.[1];
}

const netnsOf = (pid: string): Promise<string | undefined> => fs.readlink(`/proc/${pid}/ns/net`).catch(() => undefined);

// A line of the table: "Num: RefCount Protocol Flags Type St Inode Path", the inode the 7th field (padded to 5).
const INODE_COLUMN = /^\S+ +\S+ +\S+ +\S+ +\S+ +\S+ +(\d+)/gm;
const CHUNK_BYTES = 64 * 1024;

/** A netns' table of unix sockets: the inodes in it, and whether it was read to its end. */
export interface UnixTable {
  inodes: Set<string>;
  complete: boolean;
}

/** The inodes column of /proc/<pid>/net/unix, and whether the table was read to its end. */
async function unixInodes(pid: string): Promise<UnixTable> {
  const file = await fs.open(`/proc/${pid}/net/unix`).catch(() => undefined);
  if (!file) return { inodes: new Set(), complete: false };
  const chunks: Buffer[] = [];
  let size = 0;
  let complete = false;
  try {
    while (size < MAX_TABLE_BYTES) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const { bytesRead } = await file.read(chunk, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) {
        complete = true;
        break;
      }
      chunks.push(chunk.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await file.close();
  }
  let text = Buffer.concat(chunks).toString('latin1');
  // A table cut short may end in half a line: it is not read.
  if (!complete) text = text.slice(0, text.lastIndexOf('\n') + 1);
  return { inodes: new Set(Array.from(text.matchAll(INODE_COLUMN), (match) => match[1] as string)), complete };
}

/** What PeerNetns reads of the system: /proc, or a stand-in in the unit tests. */
export interface NetnsReader {
  /** Our end's inode of a connection. */
  inodeOf(socket: Socket): Promise<string | undefined>;
  /** The netns of a process, as net:[inode]. */
  netnsOf(pid: string): Promise<string | undefined>;
  /** The table of unix sockets of a process' netns. */
  unixInodes(pid: string): Promise<UnixTable>;
  /** Every process. */
  pids(): Promise<string[]>;
}

const procReader: NetnsReader = {
  inodeOf,
  netnsOf,
  unixInodes,
  pids: async () => (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name)),
};

/**
 * Which netns the client of a connection is in. A process known to live in
 * each netns is remembered, checked before each use (its pid may have been
 * reused), and the whole of /proc is looked at only when none is known, at
 * most once a second: a connection costs a readlink or two and the read of
 * one netns' table, never a scan of every process.
 *
 * A connection's netns is looked for only among the netns of the
 * attachments and the few seen lately, never through every netns of the
 * machine: a guest's agent is always in one of those, and a connection from
 * anywhere else (a netns no process is left in, say) is not worth a read of
 * every table for each batch it comes in. Such a connection is untold, and
 * its callers put all of those in one budget (UNTOLD_NETNS).
 */
export class PeerNetns {
  private readonly pids = new Map<string, string>();
  private recent: string[] = [];
  private scannedAt = Number.NEGATIVE_INFINITY;
  private scanning: Promise<void> | undefined;

  constructor(
    /** The netns of the attachments, with the pid each was attached through. */
    private readonly attached: () => Iterable<NetnsHint> = () => [],
    private readonly reader: NetnsReader = procReader,
  ) {}

  /** Whether the client of `socket` is in the netns `expected`: through its pid first, while that still lives there. */
  async isFrom(socket: Socket, expected: NetnsHint): Promise<FromNetns> {
    const inode = await this.reader.inodeOf(socket);
    if (inode === undefined) return 'unknown';
    const seen = await this.lookIn(expected.netns, expected.pid, true);
    if (seen?.inodes.has(inode)) {
      this.touch(expected.netns);
      return 'yes';
    }
    return seen?.complete ? 'no' : 'unknown';
  }

  /**
   * The netns each socket's client is in, among the netns seen lately and the
   * attachments'; the others are left out. At most one read of each of those
   * tables, whatever the number of netns on the machine.
   */
  async sourcesOf(sockets: Socket[]): Promise<Map<Socket, string>> {
    const result = new Map<Socket, string>();
    const byInode = new Map<string, Socket>();
    for (const [socket, inode] of await Promise.all(sockets.map(async (s) => [s, await this.reader.inodeOf(s)] as const))) {
      if (inode !== undefined) byInode.set(inode, socket);
    }
    // A connection closed meanwhile is in no table any more: looking for it would read every table there is to read.
    const leftToFind = () => {
      for (const [inode, socket] of byInode) if (socket.destroyed) byInode.delete(inode);
      return byInode.size > 0;
    };
    const read = new Set<string>();
    const lookThrough = async (hints: NetnsHint[]) => {
      for (const { netns, pid } of hints) {
        if (!leftToFind()) return;
        if (read.has(netns)) continue;
        const seen = await this.lookIn(netns, pid, false);
        if (seen === undefined) continue;
        read.add(netns);
        for (const inode of [...byInode.keys()].filter((i) => seen.inodes.has(i))) {
          result.set(byInode.get(inode) as Socket, netns);
          byInode.delete(inode);
          this.touch(netns);
        }
      }
    };
    await lookThrough(this.recent.map((netns) => ({ netns })));
    const attached = [...this.attached()];
    await lookThrough(attached);
    // An attachment's netns whose process is not known (the one attached exited): a scan finds one, at most once a second.
    if (leftToFind() && attached.some(({ netns }) => !read.has(netns)) && this.scannedAt + RESCAN_AFTER_MS <= Date.now()) {
      await this.rescan();
      await lookThrough(attached);
    }
    return result;
  }

  /** The table of `netns`, through `hint` or a process known there; `scan`: look at /proc (waiting for its turn) when none is. */
  private async lookIn(netns: string, hint: number | undefined, scan: boolean): Promise<UnixTable | undefined> {
    let pid = await this.pidIn(netns, hint);
    if (pid === undefined && scan) {
      await this.rescan();
      pid = this.pids.get(netns);
    }
    if (pid === undefined) return undefined;
    const table = await this.reader.unixInodes(pid);
    // The pid may have exited and its number gone to another netns meanwhile: the table counts only if it had not.
    if ((await this.reader.netnsOf(pid)) === netns) return table;
    this.pids.delete(netns);
    return undefined;
  }

  private async pidIn(netns: string, hint: number | undefined): Promise<string | undefined> {
    for (const pid of [hint === undefined ? undefined : String(hint), this.pids.get(netns)]) {
      if (pid !== undefined && (await this.reader.netnsOf(pid)) === netns) {
        this.pids.set(netns, pid);
        return pid;
      }
    }
    this.pids.delete(netns);
    return undefined;
  }

  private touch(netns: string): void {
    this.recent = [netns, ...this.recent.filter((n) => n !== netns)].slice(0, RECENT_NETNS);
  }

  /** One process per netns, from all of /proc; one scan at a time, and none within a second of the last. */
  private rescan(): Promise<void> {
    this.scanning ??= (async () => {
      const wait = this.scannedAt + RESCAN_AFTER_MS - Date.now();
      if (wait > 0) await sleep(wait);
      const found = new Map<string, string>();
      await Promise.all(
        (await this.reader.pids()).map(async (pid) => {
          const netns = await this.reader.netnsOf(pid);
          if (netns !== undefined && !found.has(netns)) found.set(netns, pid);
        }),
      );
      // Netns that are gone are forgotten: the map holds the netns that exist.
      this.pids.clear();
      for (const [netns, pid] of found) this.pids.set(netns, pid);
      this.recent = this.recent.filter((netns) => found.has(netns));
      this.scannedAt = Date.now();
    })().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }
}
