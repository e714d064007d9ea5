import { checkIfName, checkIPv4, checkIPv6, checkPid, checkPrefixLength6, checkToken, ConfigError } from '@guestnet/protocol';
import { readSmallFile } from '@guestnet/runtime';
import {
  hasGuestLinkType,
  IPVLAN_MODES,
  isRestorableAlias,
  LINK_TYPES,
  type LinkType,
  MACVLAN_MODES,
  RECORD_TYPES,
  type RecordType,
  recordTypeOf,
} from '../model/link-type.js';
import { GUEST_CONFIGS } from '../model/guest-config.js';
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
    const value = (await readSmallFile(statePaths(stateDir).ipForwardBefore)).trim();
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
    isRestorableAlias(raw.alias) &&
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

const isIfName = (v: unknown) => checkIfName(v).ok;
const isAddress = (v: unknown) => checkIPv4(v).ok;
const isOptional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);
const isTrueOrUnset = (v: unknown) => v === undefined || v === true;
const isOneOf = (values: readonly unknown[]) => (v: unknown) => values.includes(v);

/** The fields of every record: who the guest is, its token and backend. */
function isBase(raw: Record<string, unknown>): boolean {
  return (
    typeof raw.id === 'string' &&
    ID_PATTERN.test(raw.id) &&
    (raw.pid === undefined || checkPid(raw.pid).ok) &&
    typeof raw.netnsPath === 'string' &&
    raw.netnsPath.startsWith('/') &&
    typeof raw.netns === 'string' &&
    checkToken(raw.token).ok &&
    (FIREWALLS as readonly unknown[]).includes(raw.firewall) &&
    isTrueOrUnset(raw.tagged) &&
    isTrueOrUnset(raw.awaitingGuest) &&
    isTrueOrUnset(raw.undoing)
  );
}

/** A guest link: its names, MAC, MTU and resolvers, and its addresses unless it takes them by DHCP. */
function isGuestLink(raw: Record<string, unknown>, dhcpAllowed: boolean): boolean {
  const addressed =
    raw.dhcp === undefined
      ? isAddress(raw.hostAddress) && isAddress(raw.guestAddress) && Number.isInteger(raw.prefixLength)
      : dhcpAllowed && raw.dhcp === true && [raw.hostAddress, raw.guestAddress, raw.prefixLength].every((v) => v === undefined);
  return (
    addressed &&
    [raw.guestIf, raw.guestName].every(isIfName) &&
    typeof raw.guestMac === 'string' &&
    /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(raw.guestMac) &&
    Number.isInteger(raw.mtu) &&
    Array.isArray(raw.dns) &&
    raw.dns.every(isAddress)
  );
}

/** Each type's own fields, beside the base and (for types with a guest link) the link's. */
const TYPE_FIELDS: Record<RecordType, (raw: Record<string, unknown>) => boolean> = {
  'routed-veth': (raw) =>
    [raw.hostIf, raw.uplink].every(isIfName) &&
    isOptional(raw.hostIfPrefix, isIfName) &&
    isOptional(raw.ipv6, isGuestIpv6) &&
    isOptional(raw.ipv6Auto, isIpv6Auto) &&
    typeof raw.guestToGuest === 'boolean' &&
    isOptional(raw.policyTable, (v) => Number.isInteger(v) && (v as number) > 0) &&
    isTrueOrUnset(raw.uplinkPinned) &&
    isTrueOrUnset(raw.mtuPinned) &&
    isOptional(raw.guestConfig, isOneOf(GUEST_CONFIGS)) &&
    Array.isArray(raw.forwards) &&
    raw.forwards.every(isPortForward),
  'bridged-veth': (raw) =>
    [raw.link, raw.hostIf].every(isIfName) && isOptional(raw.hostIfPrefix, isIfName) && isTrueOrUnset(raw.portSecurity),
  macvlan: (raw) => isIfName(raw.link) && isOneOf(MACVLAN_MODES)(raw.macvlanMode),
  ipvlan: (raw) => isIfName(raw.link) && isOneOf(IPVLAN_MODES)(raw.ipvlanMode),
  vlan: (raw) => isIfName(raw.link) && Number.isInteger(raw.vlanId) && (raw.vlanId as number) >= 1 && (raw.vlanId as number) <= 4094,
  phys: (raw) => isIfName(raw.link) && isPhysBefore(raw.phys),
  empty: () => true,
  none: () => true,
};

/** Whether `raw` has every field of a record of its type, each of a value safe to put on a command line. */
function isRecord(raw: Record<string, unknown>): boolean {
  const type = raw.type as RecordType;
  if (!(RECORD_TYPES as readonly unknown[]).includes(type) || !isBase(raw) || !TYPE_FIELDS[type](raw)) return false;
  const fields = fieldsOf(type);
  if (Object.keys(raw).some((key) => !fields.has(key))) return false;
  return !hasGuestLinkType(type) || isGuestLink(raw, type !== 'routed-veth');
}

const BASE_FIELDS = ['id', 'pid', 'netnsPath', 'netns', 'cni', 'token', 'firewall', 'tagged', 'awaitingGuest', 'undoing', 'type'];
const LINK_FIELDS = ['guestIf', 'guestName', 'guestMac', 'mtu', 'dns', 'hostAddress', 'guestAddress', 'prefixLength', 'dhcp'];

/** The fields of each type beside the base and the guest link's: a record carries these and no others. */
const OWN_FIELDS: Record<RecordType, readonly string[]> = {
  'routed-veth': [
    'hostIf',
    'hostIfPrefix',
    'ipv6',
    'ipv6Auto',
    'guestToGuest',
    'uplink',
    'policyTable',
    'uplinkPinned',
    'mtuPinned',
    'forwards',
    'guestConfig',
  ],
  'bridged-veth': ['link', 'hostIf', 'hostIfPrefix', 'portSecurity'],
  macvlan: ['link', 'macvlanMode'],
  ipvlan: ['link', 'ipvlanMode'],
  vlan: ['link', 'vlanId'],
  phys: ['link', 'phys'],
  empty: [],
  none: [],
};

const fieldsOf = (type: RecordType) => new Set([...BASE_FIELDS, ...(hasGuestLinkType(type) ? LINK_FIELDS : []), ...OWN_FIELDS[type]]);

/** What older versions gave every type that has no such thing: names, addresses and defaults that mean nothing for it. */
const SENTINELS = ['hostIf', 'hostIfPrefix', 'uplink', 'guestToGuest', 'forwards', ...LINK_FIELDS];

/**
 * A record as this version writes it, from one of any version. Older ones
 * had no `type` for a veth, told a routed veth from a bridged one by `link`,
 * and gave the types without a host end or uplink a sentinel name (`lo`, the
 * parent) and DHCP guests the address 0.0.0.0: those fields go. Fields that
 * are neither the type's own nor such a sentinel stay, and fail the check.
 */
export function upgradeRecord(raw: Record<string, unknown>): Record<string, unknown> {
  if ((RECORD_TYPES as readonly unknown[]).includes(raw.type) && !(LINK_TYPES as readonly unknown[]).includes(raw.type)) return raw;
  const type = raw.type ?? 'veth';
  if (!(LINK_TYPES as readonly unknown[]).includes(type)) return raw;
  const recordType = recordTypeOf({ type: type as LinkType, link: typeof raw.link === 'string' ? raw.link : undefined });
  const own = fieldsOf(recordType);
  const sentinel = (key: string) =>
    (SENTINELS.includes(key) && !own.has(key)) || (raw.dhcp === true && ['hostAddress', 'guestAddress', 'prefixLength'].includes(key));
  const kept = Object.entries(raw).filter(([key]) => !sentinel(key));
  const defaults = recordType === 'macvlan' ? { macvlanMode: 'bridge' } : recordType === 'ipvlan' ? { ipvlanMode: 'l2' } : {};
  return { ...defaults, ...Object.fromEntries(kept), type: recordType };
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
  const record = isObject(raw) ? upgradeRecord(raw) : undefined;
  if (!record || !isRecord(record)) throw new ConfigError(`state file ${path} is damaged; remove it after checking 'ip link'`);
  return record as unknown as AttachmentRecord;
}
