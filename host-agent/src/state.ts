import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { checkIfName, checkIPv4, checkPid, checkToken, ConfigError } from '@guestnet/protocol';
import { FIREWALLS, type FirewallName } from './firewall/names.js';
import { type Forward, isForward } from './forward.js';
import type { HostSettings } from './settings.js';

/** Which guest an attachment is for: a process (attach <pid>) or a CNI container. */
export interface GuestIdentity {
  /** The key of the attachment and its record file: the pid, or cni-<container id>-<ifname>. */
  id: string;
  /** Absent for CNI containers, which may have no process yet. */
  pid?: number;
  /** Where to enter the guest's netns: /proc/<pid>/ns/net, or the runtime's CNI_NETNS. */
  netnsPath: string;
  /** The netns as net:[inode]: tells a live guest from a reused pid or a recreated netns. */
  netns: string;
  cni?: { containerId: string; ifname: string };
}

/** How messages name a guest. */
export function guestLabel(guest: Pick<GuestIdentity, 'pid' | 'cni'>): string {
  return guest.cni ? `container ${guest.cni.containerId.slice(0, 12)}` : `pid ${guest.pid}`;
}

// CNI container ids are letters, digits, '_', '.' and '-': safe as a file name.
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/;

/**
 * What attach did for one guest, written before the first kernel change so
 * that detach (or a later recovery) always knows what to remove.
 */
export type AttachmentRecord = Pick<HostSettings, 'guestIf' | 'guestName' | 'mtu' | 'guestToGuest'> & GuestIdentity & {
  hostIf: string;
  /** Set when hostIf was named from this prefix: the guest shares its firewall rules with the prefix's family. */
  hostIfPrefix?: string;
  /** The gateway, on the host end. */
  hostAddress: string;
  guestAddress: string;
  /** The pool's prefix: the subnet the guest sees. */
  prefixLength: number;
  guestMac: string;
  uplink: string;
  /** On a netd-style host (Android): the uplink's routing table, which the guest's ip rule looks up. */
  policyTable?: number;
  /** Set when --uplink chose it: otherwise the uplink follows the host's default route. */
  uplinkPinned?: true;
  dns: string[];
  /** The secret in the guest link's alias that identifies its guest agent. */
  token: string;
  /** Host ports forwarded to this guest. */
  forwards: Forward[];
  /** The backend its rules are in; every guest of a state dir shares one. */
  firewall: FirewallName;
};

export interface StatePaths {
  attachments: string;
  ipForwardBefore: string;
}

export function statePaths(stateDir: string): StatePaths {
  return { attachments: join(stateDir, 'attachments'), ipForwardBefore: join(stateDir, 'ip_forward.before') };
}

export function recordPath(stateDir: string, id: string): string {
  return join(statePaths(stateDir).attachments, `${id}.json`);
}

// Parsed records by path, reused while the file is the same one (records are
// only ever replaced by rename, which makes a new inode). A daemon reads its
// state dir after every change; parsing hundreds of files each time made each
// attach slower than the one before.
const parsed = new Map<string, { ino: number; mtimeMs: number; record: AttachmentRecord }>();

async function readRecord(path: string): Promise<AttachmentRecord> {
  const { ino, mtimeMs } = await fs.stat(path);
  const known = parsed.get(path);
  if (known && known.ino === ino && known.mtimeMs === mtimeMs) return known.record;
  const record = parseRecord(path, await fs.readFile(path, 'utf8'));
  parsed.set(path, { ino, mtimeMs, record });
  return record;
}

export async function readRecords(stateDir: string): Promise<AttachmentRecord[]> {
  const dir = statePaths(stateDir).attachments;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const paths = names.filter((name) => name.endsWith('.json') && ID_PATTERN.test(name.slice(0, -5))).map((name) => join(dir, name));
  const present = new Set(paths);
  for (const path of parsed.keys()) if (path.startsWith(`${dir}/`) && !present.has(path)) parsed.delete(path);
  const records = await Promise.all(paths.map(readRecord));
  return records.sort((a, b) => (a.pid ?? Infinity) - (b.pid ?? Infinity) || a.id.localeCompare(b.id));
}

/** The ip_forward value found before the first attach, if an attach changed it. */
export async function readIpForwardBefore(stateDir: string): Promise<string | undefined> {
  try {
    const value = (await fs.readFile(statePaths(stateDir).ipForwardBefore, 'utf8')).trim();
    return value === '0' || value === '1' ? value : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// The state dir is root-only, but a record is still checked before its fields
// reach a command line: a corrupted file must fail loudly, not run something odd.
function parseRecord(path: string, text: string): AttachmentRecord {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`state file ${path} is not valid JSON; remove it after checking 'ip link'`);
  }
  const valid =
    typeof raw.id === 'string' &&
    ID_PATTERN.test(raw.id) &&
    (raw.pid === undefined || checkPid(raw.pid).ok) &&
    (raw.hostIfPrefix === undefined || checkIfName(raw.hostIfPrefix).ok) &&
    (raw.uplinkPinned === undefined || raw.uplinkPinned === true) &&
    (raw.policyTable === undefined || (Number.isInteger(raw.policyTable) && (raw.policyTable as number) > 0)) &&
    typeof raw.netnsPath === 'string' &&
    raw.netnsPath.startsWith('/') &&
    [raw.hostIf, raw.guestIf, raw.guestName, raw.uplink].every((v) => checkIfName(v).ok) &&
    [raw.hostAddress, raw.guestAddress].every((v) => checkIPv4(v).ok) &&
    Array.isArray(raw.dns) &&
    raw.dns.every((v) => checkIPv4(v).ok) &&
    Number.isInteger(raw.prefixLength) &&
    Number.isInteger(raw.mtu) &&
    typeof raw.netns === 'string' &&
    typeof raw.guestToGuest === 'boolean' &&
    typeof raw.guestMac === 'string' &&
    /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(raw.guestMac) &&
    checkToken(raw.token).ok &&
    Array.isArray(raw.forwards) &&
    raw.forwards.every(isForward) &&
    (FIREWALLS as readonly unknown[]).includes(raw.firewall);
  if (!valid) throw new ConfigError(`state file ${path} is damaged; remove it after checking 'ip link'`);
  return raw as unknown as AttachmentRecord;
}
