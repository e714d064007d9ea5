import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeAtomically } from '@guestnet/runtime';
import { isPortForward, type PortForward } from '../model/port-forward.js';
import { type AttachmentRecord, type GuestIdentity, isRouted } from '../model/record.js';
import { netnsAt } from '../observe.js';
import { removeEmptyDir } from '../state/dir.js';

// `podman network reload` (podman 4, CNI backend) runs DEL and then ADD in the
// container's same netns, and podman hands that ADD a config whose
// capabilities it replaced with {"ips": true} to pass the container's address:
// the published ports never reach the plugin. So a DEL whose container keeps
// its netns notes the attachment's published ports, and an ADD into that same
// netns that names no ports of its own takes them back. A note lives as long
// as its netns: the next DEL or GC after the netns is gone drops it.

/** What a DEL kept of an attachment: its ports, and the netns they belong to. */
interface KeptPorts {
  netnsPath: string;
  netns: string;
  /** The ctime of the netns file, in ms: when its nsfs inode was made. */
  born: number;
  network: string | undefined;
  forwards: PortForward[];
}

const keptDir = (stateDir: string) => join(stateDir, 'cni-ports');
const keptPath = (stateDir: string, id: string) => join(keptDir(stateDir), `${id}.json`);
const bornAt = (netnsPath: string) =>
  fs.stat(netnsPath).then(
    (found) => found.ctimeMs,
    () => undefined,
  );

/** Whether the netns a note was kept for is still there: the same inode, made at the same time. */
async function stillThere(kept: KeptPorts): Promise<boolean> {
  return (await netnsAt(kept.netnsPath)) === kept.netns && (await bornAt(kept.netnsPath)) === kept.born;
}

async function readKept(path: string): Promise<KeptPorts | undefined> {
  let raw: Partial<KeptPorts>;
  try {
    raw = JSON.parse(await fs.readFile(path, 'utf8')) ?? {};
  } catch {
    return undefined;
  }
  const valid =
    typeof raw.netnsPath === 'string' &&
    typeof raw.netns === 'string' &&
    typeof raw.born === 'number' &&
    (raw.network === undefined || typeof raw.network === 'string') &&
    Array.isArray(raw.forwards) &&
    raw.forwards.every(isPortForward);
  return valid ? (raw as KeptPorts) : undefined;
}

/** Before a DEL: notes the record's published ports while its netns lives on. Under the state lock. */
export async function keepPorts(stateDir: string, record: AttachmentRecord): Promise<void> {
  const born = await bornAt(record.netnsPath);
  if (!isRouted(record) || record.forwards.length === 0 || born === undefined || (await netnsAt(record.netnsPath)) !== record.netns) return;
  const kept: KeptPorts = {
    netnsPath: record.netnsPath,
    netns: record.netns,
    born,
    network: record.cni?.network,
    forwards: record.forwards,
  };
  await writeAtomically(keptPath(stateDir, record.id), `${JSON.stringify(kept)}\n`, { durable: false });
}

/**
 * Whether a DEL kept ports for this attachment (`found`), and the ports when
 * they belong to this guest's very netns and network. Read without the lock:
 * when there is no note, it costs one failed open.
 */
export async function keptPorts(stateDir: string, guest: GuestIdentity): Promise<{ found: boolean; forwards?: PortForward[] }> {
  const kept = await readKept(keptPath(stateDir, guest.id));
  if (!kept) return { found: false };
  const same =
    kept.netns === guest.netns && kept.netnsPath === guest.netnsPath && kept.network === guest.cni?.network && (await stillThere(kept));
  return same ? { found: true, forwards: kept.forwards } : { found: true };
}

/**
 * Drops the note of `id` (taken back by an ADD), and every note whose netns
 * is gone or that cannot be read, then the dir once it is empty. Under the state lock.
 */
export async function dropKeptPorts(stateDir: string, id?: string): Promise<void> {
  const dir = keptDir(stateDir);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const path = join(dir, name);
    const kept = name === `${id}.json` ? undefined : await readKept(path);
    if (!kept || !(await stillThere(kept))) await fs.rm(path, { force: true });
  }
  await removeEmptyDir(dir);
}
