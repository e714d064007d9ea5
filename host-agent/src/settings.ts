import { readFileSync } from 'node:fs';
import {
  type Checked,
  checkIfName,
  checkIPv4,
  checkMtu,
  checkPrefixLength,
  ConfigError,
  sameSubnet,
  UsageError,
} from '@guestnet/protocol';

/** Everything attach needs to know. Built-in defaults reproduce the original design. */
export interface HostSettings {
  hostIf: string;
  guestIf: string;
  guestName: string;
  hostAddress: string;
  guestAddress: string;
  prefixLength: number;
  mtu: number;
  /** Unset: the interface of the default route. */
  uplink: string | undefined;
  /** Unset: the host's own non-loopback resolvers. */
  dns: string[] | undefined;
  /** Milliseconds to wait for the guest agent. */
  timeout: number;
  socket: string;
  stateDir: string;
}

export const DEFAULT_CONFIG_PATH = '/etc/guestnet/host.json';

const DEFAULTS: HostSettings = {
  hostIf: 'vm_wlan',
  guestIf: 'vm_wlan0',
  guestName: 'wlan0',
  hostAddress: '172.17.3.2',
  guestAddress: '172.17.3.3',
  prefixLength: 16,
  mtu: 1500,
  uplink: undefined,
  dns: undefined,
  timeout: 30000,
  socket: '/run/guestnet/guest.sock',
  stateDir: '/run/guestnet/state',
};

type Key = keyof HostSettings;

interface Setting {
  flag: string;
  help: string;
  /** Accepts the flag's string or the config file's JSON value. */
  check: (value: unknown) => Checked<unknown>;
}

const fromString = (check: (v: unknown) => Checked<unknown>) => (value: unknown) =>
  check(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);

function checkPath(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 100 || value.includes('\0')) {
    return { ok: false, reason: 'must be an absolute path of at most 100 characters' };
  }
  return { ok: true, value };
}

function checkTimeout(value: unknown): Checked<number> {
  if (!Number.isInteger(value) || (value as number) < 100 || (value as number) > 3_600_000) {
    return { ok: false, reason: 'must be milliseconds from 100 to 3600000' };
  }
  return { ok: true, value: value as number };
}

function checkDnsList(value: unknown): Checked<string[]> {
  const items = typeof value === 'string' ? value.split(',').filter(Boolean) : value;
  if (!Array.isArray(items) || items.length > 4) return { ok: false, reason: 'must be up to 4 IPv4 addresses' };
  for (const item of items) {
    const checked = checkIPv4(item);
    if (!checked.ok) return checked;
  }
  return { ok: true, value: items as string[] };
}

/** The single table behind the flags, the config keys and their validation. */
export const SETTINGS: Record<Key, Setting> = {
  hostIf: { flag: '--host-if <name>', help: 'host end of the veth pair', check: checkIfName },
  guestIf: { flag: '--guest-if <name>', help: 'guest end, as created in the guest', check: checkIfName },
  guestName: { flag: '--guest-name <name>', help: 'name the guest agent gives its end', check: checkIfName },
  hostAddress: { flag: '--host-address <ip>', help: 'host end address, the guest gateway', check: checkIPv4 },
  guestAddress: { flag: '--guest-address <ip>', help: 'guest end address', check: checkIPv4 },
  prefixLength: { flag: '--prefix-length <n>', help: 'prefix length of the link', check: fromString(checkPrefixLength) },
  mtu: { flag: '--mtu <bytes>', help: 'MTU of both ends', check: fromString(checkMtu) },
  uplink: { flag: '--uplink <if>', help: 'uplink (default: interface of the default route)', check: checkIfName },
  dns: { flag: '--dns <ip,...>', help: "resolvers for the guest (default: the host's own)", check: checkDnsList },
  timeout: { flag: '--timeout <ms>', help: 'how long to wait for the guest agent', check: fromString(checkTimeout) },
  socket: { flag: '--socket <path>', help: 'guest agent socket, as the host sees it', check: checkPath },
  stateDir: { flag: '--state-dir <dir>', help: 'where the host remembers attachments', check: checkPath },
};

function isKey(key: string): key is Key {
  return Object.hasOwn(SETTINGS, key);
}

export function readConfigFile(path: string, mustExist: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!mustExist && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`config ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`config ${path}: not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config ${path}: must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Defaults, then the config file, then flags: the later wins. */
export function resolveSettings(config: Record<string, unknown>, flags: Record<string, unknown>, configPath: string): HostSettings {
  const settings: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of Object.entries(config)) {
    if (!isKey(key)) throw new ConfigError(`config ${configPath}: unknown key '${key}'`);
    const checked = SETTINGS[key].check(value);
    if (!checked.ok) throw new ConfigError(`config ${configPath}: key '${key}' ${checked.reason}`);
    settings[key] = checked.value;
  }
  for (const [key, value] of Object.entries(flags)) {
    if (!isKey(key) || value === undefined) continue;
    const checked = SETTINGS[key].check(value);
    if (!checked.ok) throw new UsageError(`${SETTINGS[key].flag.split(' ')[0]}: ${checked.reason}`);
    settings[key] = checked.value;
  }
  return checkConsistent(settings as unknown as HostSettings);
}

function checkConsistent(settings: HostSettings): HostSettings {
  const { hostAddress, guestAddress, prefixLength, hostIf, uplink } = settings;
  if (hostAddress === guestAddress) throw new UsageError('host and guest addresses must differ');
  if (!sameSubnet(hostAddress, guestAddress, prefixLength)) {
    throw new UsageError(`${guestAddress} and ${hostAddress} are not in one /${prefixLength}`);
  }
  if (uplink === hostIf) throw new UsageError('the uplink cannot be the guest link itself');
  return settings;
}
