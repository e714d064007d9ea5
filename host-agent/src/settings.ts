import { readFileSync, statSync } from 'node:fs';
import { type Checked, checkIfName, checkIPv4, checkMtu, ConfigError, UsageError } from '@guestnet/protocol';
import { GUEST_CONFIGS } from './model/guest-config.js';
import { IPVLAN_MODES, LINK_TYPES, MACVLAN_MODES } from './model/link-type.js';
import { inPool, parsePool } from './model/pool.js';
import type { HostSettings } from './model/settings.js';
import {
  checkBoolean,
  checkCidr,
  checkDnsList,
  checkFirewall,
  checkIfPrefix,
  checkIpv6Choice,
  checkOnOff,
  checkPath,
  checkPlatform,
  checkPool6,
  checkTimeout,
  checkVlanId,
  fromString,
  oneOf,
} from './setting-checks.js';
import { DEFAULTS, type Key, SETTING_FLAGS } from './setting-flags.js';

type Check = (value: unknown) => Checked<unknown>;

/** How each setting's value is checked: the flag's string or the config file's JSON value. */
const CHECKS: Record<Key, Check> = {
  type: oneOf(LINK_TYPES),
  link: checkIfName,
  vlanId: fromString(checkVlanId),
  macvlanMode: oneOf(MACVLAN_MODES),
  ipvlanMode: oneOf(IPVLAN_MODES),
  force: checkBoolean,
  dhcp: checkBoolean,
  portSecurity: checkOnOff,
  hostIf: checkIfName,
  hostIfPrefix: checkIfPrefix,
  guestIf: checkIfName,
  guestName: checkIfName,
  guestConfig: oneOf(GUEST_CONFIGS),
  gateway: checkIPv4,
  pool: checkCidr,
  guestAddress: checkIPv4,
  ipv6: checkIpv6Choice,
  pool6: checkPool6,
  mtu: fromString(checkMtu),
  guestToGuest: checkBoolean,
  uplink: checkIfName,
  dns: checkDnsList,
  timeout: fromString(checkTimeout),
  commandTimeout: fromString(checkTimeout),
  socket: checkPath,
  stateDir: checkPath,
  firewall: checkFirewall,
  platform: checkPlatform,
};

/** The single table behind the flags, the config keys and their validation. */
export const SETTINGS = Object.fromEntries(
  Object.entries(SETTING_FLAGS).map(([key, flag]) => [key, { ...flag, check: CHECKS[key as Key] }]),
) as Record<Key, { flag: string; help: string; check: Check }>;

function isKey(key: string): key is Key {
  return Object.hasOwn(SETTINGS, key);
}

export function readConfigFile(path: string, mustExist: boolean): Record<string, unknown> {
  let text: string;
  try {
    // A FIFO or a device would block the read, or never end: only a regular file is a config.
    if (!statSync(path).isFile()) throw new ConfigError(`config ${path}: not a regular file`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
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
  const flagged = new Set(Object.keys(flags).filter((key) => flags[key] !== undefined));
  // Values that clash are the config's fault when no flag set any of them.
  const fault = (keys: Key[], message: string) =>
    keys.some((key) => flagged.has(key)) || Object.keys(config).length === 0
      ? new UsageError(message)
      : new ConfigError(`config ${configPath}: ${message}`);
  return checkConsistent(settings as unknown as HostSettings, fault);
}

function checkConsistent(settings: HostSettings, fault: (keys: Key[], message: string) => Error): HostSettings {
  const { gateway, guestAddress, pool, hostIf, uplink } = settings;
  const parsed = parsePool(pool);
  if (!inPool(parsed, gateway)) throw fault(['gateway', 'pool'], `the gateway ${gateway} is not a usable address of the pool ${pool}`);
  if (guestAddress !== undefined && !inPool(parsed, guestAddress))
    throw fault(['guestAddress', 'pool'], `${guestAddress} is not a usable address of the pool ${pool}`);
  if (guestAddress === gateway) throw fault(['guestAddress', 'gateway'], 'the guest address cannot be the gateway');
  if (uplink !== undefined && uplink === hostIf) throw fault(['uplink', 'hostIf'], 'the uplink cannot be the guest link itself');
  const { type, link } = settings;
  if (['macvlan', 'ipvlan', 'vlan', 'phys'].includes(type) && link === undefined)
    throw fault(['type', 'link'], `--type ${type} needs --link: the ${type === 'phys' ? 'NIC to hand over' : 'parent interface'}`);
  if (!['veth', 'macvlan', 'ipvlan', 'vlan', 'phys'].includes(type) && link !== undefined)
    throw fault(['type', 'link'], `--type ${type} takes no --link`);
  if ((type === 'vlan') !== (settings.vlanId !== undefined))
    throw fault(['type', 'vlanId'], type === 'vlan' ? '--type vlan needs --vlan-id' : '--vlan-id is for --type vlan');
  if (settings.dhcp && (type === 'empty' || type === 'none' || (type === 'veth' && link === undefined))) {
    throw fault(
      ['dhcp', 'type'],
      '--dhcp needs a network with a DHCP server: --type veth --link BRIDGE, macvlan, ipvlan, vlan or phys' +
        (type === 'veth' ? ' (a routed guest is addressed by the host)' : ''),
    );
  }
  const mode = settings.guestConfig;
  if (mode !== 'agent' && (type !== 'veth' || link !== undefined))
    throw fault(
      ['guestConfig', 'type', 'link'],
      `--guest-config ${mode} is for the routed veth (--type veth without --link): on a LAN its own DHCP server or an agent configures the guest`,
    );
  if (settings.ipv6 === 'routed' && settings.pool6 === undefined)
    throw fault(['ipv6', 'pool6'], '--ipv6 routed needs --pool6: the prefix the upstream routes to this host');
  return settings;
}
