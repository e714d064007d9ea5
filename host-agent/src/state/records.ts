import { promises as fs } from 'node:fs';
import { checkIfName, checkIPv4, checkIPv6, checkPid, checkPrefixLength6, checkToken, ConfigError } from '@guestnet/protocol';
import { IPVLAN_MODES, LINK_TYPES, MACVLAN_MODES } from '../model/link-type.js';
import { FIREWALLS } from '../model/names.js';
import { recordPath, statePaths } from '../model/paths.js';
import { isPortForward } from '../model/port-forward.js';
import { type AttachmentRecord, ID_PATTERN, type RecordOp } from '../model/record.js';
import type { Step } from '../model/step.js';

/** A record as it is stored: what a `write` step puts in its file. */
export function recordContent(record: AttachmentRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** A record op's file changes: each file's step, and the record it leaves (none once removed). */
export function recordWrites(op: RecordOp, stateDir: string): Array<{ step: Step; id: string; after: AttachmentRecord | undefined }> {
  switch (op.kind) {
    case 'writeRecord':
      return [{ step: writeStep(op.record, stateDir), id: op.record.id, after: op.record }];
    case 'updateRecords':
      return op.after.map((record) => ({ step: writeStep(record, stateDir), id: record.id, after: record }));
    case 'deleteRecord':
      return [{ step: { kind: 'remove', path: recordPath(stateDir, op.id) }, id: op.id, after: undefined }];
  }
}

const writeStep = (record: AttachmentRecord, stateDir: string): Step => ({
  kind: 'write',
  path: recordPath(stateDir, record.id),
  content: recordContent(record),
});

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
