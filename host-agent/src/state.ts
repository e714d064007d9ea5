import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { checkIfName, checkIPv4, checkPid, checkToken, ConfigError } from '@guestnet/protocol';
import { FIREWALLS, type FirewallName } from './firewall/names.js';
import { type Forward, isForward } from './forward.js';
import type { HostSettings } from './settings.js';

/**
 * What attach did for one guest, written before the first kernel change so
 * that detach (or a later recovery) always knows what to remove.
 */
export type AttachmentRecord = Pick<HostSettings, 'guestIf' | 'guestName' | 'mtu' | 'guestToGuest'> & {
  pid: number;
  /** The guest's netns as /proc/<pid>/ns/net names it: tells a live guest from a reused pid. */
  netns: string;
  hostIf: string;
  /** The gateway, on the host end. */
  hostAddress: string;
  guestAddress: string;
  /** The pool's prefix: the subnet the guest sees. */
  prefixLength: number;
  guestMac: string;
  uplink: string;
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

export function recordPath(stateDir: string, pid: number): string {
  return join(statePaths(stateDir).attachments, `${pid}.json`);
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
  const records = await Promise.all(
    names.filter((name) => /^\d+\.json$/.test(name)).map(async (name) => parseRecord(join(dir, name), await fs.readFile(join(dir, name), 'utf8'))),
  );
  return records.sort((a, b) => a.pid - b.pid);
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
    checkPid(raw.pid).ok &&
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
