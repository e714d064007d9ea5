import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { checkIfName, checkIPv4, checkIPv6, checkPid, checkPrefixLength6, checkToken, ConfigError } from '@guestnet/protocol';
import { IPVLAN_MODES, LINK_TYPES, MACVLAN_MODES } from '../model/link-type.js';
import { FIREWALLS } from '../model/names.js';
import { statePaths } from '../model/paths.js';
import { isPortForward } from '../model/port-forward.js';
import { type AttachmentRecord, ID_PATTERN } from '../model/record.js';

/** A record as it is stored: what a `write` step puts in its file. */
export function recordContent(record: AttachmentRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

// Parsed records by path, reused while the file is the same one (records are
// only ever replaced by rename, which makes a new inode). A daemon reads its
// state dir after every change; without this, each attach parsed every record.
const parsed = new Map<string, { ino: number; mtimeMs: number; record: AttachmentRecord }>();

/**
 * Undefined when the record went between the listing and the read (a detach,
 * a reaping daemon, removed it), or is empty. Records are written to a
 * temporary file and renamed, unsynced: only a power cut leaves one empty,
 * and it took the guest and every link and rule the record described.
 */
async function readRecord(path: string): Promise<AttachmentRecord | undefined> {
  try {
    const { ino, mtimeMs, size } = await fs.stat(path);
    if (size === 0) return undefined;
    const known = parsed.get(path);
    if (known && known.ino === ino && known.mtimeMs === mtimeMs) return known.record;
    const record = parseRecord(path, await fs.readFile(path, 'utf8'));
    parsed.set(path, { ino, mtimeMs, record });
    return record;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
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
  const records = (await Promise.all(paths.map(readRecord))).filter((r): r is AttachmentRecord => r !== undefined);
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

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

// Addresses as `ip` prints them, and an alias without quotes or line breaks: they go back on a command line.
function isPhysBefore(raw: unknown): boolean {
  return (
    isObject(raw) &&
    Array.isArray(raw.addresses) &&
    raw.addresses.every((a) => typeof a === 'string' && /^[0-9a-f.:]+\/\d{1,3}$/.test(a)) &&
    typeof raw.up === 'boolean' &&
    Number.isInteger(raw.mtu) &&
    typeof raw.alias === 'string' &&
    /^[^"\n\\]{0,200}$/.test(raw.alias) &&
    (raw.nic === undefined || isNicIdentity(raw.nic))
  );
}

// Compared with what the kernel prints, never put on a command line: bounded, printable.
function isNicIdentity(raw: unknown): boolean {
  return (
    isObject(raw) &&
    [raw.bus, raw.device].every((v) => typeof v === 'string' && /^[\x21-\x7e]{1,100}$/.test(v)) &&
    typeof raw.permanentMac === 'string' &&
    /^([0-9a-f]{2}:){5,19}[0-9a-f]{2}$/.test(raw.permanentMac)
  );
}

function isGuestIpv6(raw: unknown): boolean {
  return (
    isObject(raw) &&
    (raw.mode === 'nat' || raw.mode === 'routed') &&
    checkIPv6(raw.hostAddress).ok &&
    checkIPv6(raw.guestAddress).ok &&
    checkPrefixLength6(raw.prefixLength).ok &&
    checkIfName(raw.uplink).ok &&
    (raw.ndProxy === undefined || raw.ndProxy === true)
  );
}

function isIpv6Auto(raw: unknown): boolean {
  if (!isObject(raw) || typeof raw.pool6 !== 'string') return false;
  const [address, prefix, ...rest] = raw.pool6.split('/');
  return rest.length === 0 && checkIPv6(address).ok && checkPrefixLength6(Number(prefix)).ok;
}

/** Whether `raw` has every field of a record, each of a value safe to put on a command line. */
function isRecord(raw: Record<string, unknown>): boolean {
  return (
    typeof raw.id === 'string' &&
    ID_PATTERN.test(raw.id) &&
    (raw.pid === undefined || checkPid(raw.pid).ok) &&
    (raw.hostIfPrefix === undefined || checkIfName(raw.hostIfPrefix).ok) &&
    (raw.uplinkPinned === undefined || raw.uplinkPinned === true) &&
    (raw.mtuPinned === undefined || raw.mtuPinned === true) &&
    (raw.tagged === undefined || raw.tagged === true) &&
    (raw.awaitingGuest === undefined || raw.awaitingGuest === true) &&
    (raw.ipv6 === undefined || isGuestIpv6(raw.ipv6)) &&
    (raw.ipv6Auto === undefined || isIpv6Auto(raw.ipv6Auto)) &&
    (raw.type === undefined || (LINK_TYPES as readonly unknown[]).includes(raw.type)) &&
    (raw.link === undefined || checkIfName(raw.link).ok) &&
    (raw.vlanId === undefined || (Number.isInteger(raw.vlanId) && (raw.vlanId as number) >= 1 && (raw.vlanId as number) <= 4094)) &&
    (raw.macvlanMode === undefined || (MACVLAN_MODES as readonly unknown[]).includes(raw.macvlanMode)) &&
    (raw.ipvlanMode === undefined || (IPVLAN_MODES as readonly unknown[]).includes(raw.ipvlanMode)) &&
    (raw.phys === undefined || isPhysBefore(raw.phys)) &&
    (raw.dhcp === undefined || raw.dhcp === true) &&
    (raw.portSecurity === undefined || raw.portSecurity === true) &&
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
    raw.forwards.every(isPortForward) &&
    (FIREWALLS as readonly unknown[]).includes(raw.firewall)
  );
}

/**
 * The state dir is root-only, but a record is still checked before its fields
 * reach a command line: a corrupted file must fail loudly, not run something odd.
 */
export function parseRecord(path: string, text: string): AttachmentRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`state file ${path} is not valid JSON; remove it after checking 'ip link'`);
  }
  if (!isObject(raw) || !isRecord(raw)) throw new ConfigError(`state file ${path} is damaged; remove it after checking 'ip link'`);
  return raw as unknown as AttachmentRecord;
}
