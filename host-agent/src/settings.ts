import { readFileSync, statSync } from 'node:fs';
import { type Checked, checkIfName, checkIPv4, checkMtu, ConfigError, UsageError } from '@guestnet/protocol';
import { DEFAULT_COMMAND_DEADLINE_MS } from '@guestnet/runtime';
import { GUEST_CONFIGS } from './model/guest-config.js';
import { IPVLAN_MODES, LINK_TYPES, MACVLAN_MODES } from './model/link-type.js';
import { inPool, parsePool } from './model/pool.js';
import { DEFAULT_GUEST_IF, type HostSettings } from './model/settings.js';
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

export const DEFAULT_CONFIG_PATH = '/etc/guestnet/host.json';

const DEFAULTS: HostSettings = {
  type: 'veth',
  link: undefined,
  vlanId: undefined,
  macvlanMode: 'bridge',
  ipvlanMode: 'l2',
  force: false,
  dhcp: false,
  portSecurity: true,
  hostIf: undefined,
  hostIfPrefix: 'vm_wlan',
  guestIf: DEFAULT_GUEST_IF,
  guestName: 'wlan0',
  guestConfig: 'agent',
  gateway: '172.17.3.2',
  pool: '172.17.0.0/16',
  guestAddress: undefined,
  ipv6: 'auto',
  pool6: undefined,
  mtu: undefined,
  guestToGuest: false,
  uplink: undefined,
  dns: undefined,
  timeout: 30000,
  commandTimeout: DEFAULT_COMMAND_DEADLINE_MS,
  socket: '/run/guestnet/guest/guest.sock',
  stateDir: '/run/guestnet/state',
  firewall: 'auto',
  platform: 'auto',
};

type Key = keyof HostSettings;

interface Setting {
  flag: string;
  help: string;
  /** Accepts the flag's string or the config file's JSON value. */
  check: (value: unknown) => Checked<unknown>;
}

/** The single table behind the flags, the config keys and their validation. */
export const SETTINGS: Record<Key, Setting> = {
  type: {
    flag: '--type <type>',
    help: 'veth, macvlan, ipvlan, vlan, phys, empty or none, as lxc.net.N.type',
    check: oneOf(LINK_TYPES),
  },
  link: {
    flag: '--link <if>',
    help: 'veth: a bridge to join (no NAT); macvlan, ipvlan, vlan: the parent; phys: the NIC to hand over',
    check: checkIfName,
  },
  vlanId: { flag: '--vlan-id <n>', help: 'the VLAN id of --type vlan', check: fromString(checkVlanId) },
  macvlanMode: { flag: '--macvlan-mode <mode>', help: 'bridge, private, vepa or passthru', check: oneOf(MACVLAN_MODES) },
  ipvlanMode: { flag: '--ipvlan-mode <mode>', help: 'l2, l3 or l3s', check: oneOf(IPVLAN_MODES) },
  force: { flag: '--force', help: 'with phys: hand over the uplink itself', check: checkBoolean },
  dhcp: {
    flag: '--dhcp',
    help: "the guest takes its address from the network's DHCP server (not for the routed veth)",
    check: checkBoolean,
  },
  portSecurity: {
    flag: '--port-security <mode>',
    help: "on: a bridge port passes only the guest's own MAC and addresses; off: the guest is a full layer-2 peer (default: on)",
    check: checkOnOff,
  },
  hostIf: { flag: '--host-if <name>', help: 'host end of the veth pair (default: first free vm_wlan, vm_wlan1, ...)', check: checkIfName },
  hostIfPrefix: { flag: '--host-if-prefix <name>', help: 'prefix of generated host link names', check: checkIfPrefix },
  guestIf: {
    flag: '--guest-if <name>',
    help: 'guest end, as created in the guest (default: vm_wlan0, or a one-time name while attach waits)',
    check: checkIfName,
  },
  guestName: {
    flag: '--guest-name <name>',
    help: "the guest end's name in the guest: its agent renames the link to it; with --guest-config dhcp or host it is made under it",
    check: checkIfName,
  },
  guestConfig: {
    flag: '--guest-config <mode>',
    help:
      "who configures the guest's end: agent (its guest agent), dhcp (its own DHCP client, answered by host-agent serve) " +
      "or host (the host, inside the guest's netns; its DNS is the caller's)",
    check: oneOf(GUEST_CONFIGS),
  },
  gateway: { flag: '--gateway <ip>', help: "host end address, the guests' default gateway", check: checkIPv4 },
  pool: { flag: '--pool <cidr>', help: 'where guest addresses come from; the subnet guests see', check: checkCidr },
  guestAddress: { flag: '--guest-address <ip>', help: 'guest address (default: next free in the pool)', check: checkIPv4 },
  ipv6: {
    flag: '--ipv6 <mode>',
    help: 'auto, off, nat (a ULA address, masqueraded) or routed (an address from --pool6, no NAT)',
    check: checkIpv6Choice,
  },
  pool6: {
    flag: '--pool6 <cidr>',
    help: "guests' IPv6 prefix (default: a unique local /64 derived from the machine id)",
    check: checkPool6,
  },
  mtu: {
    flag: '--mtu <bytes>',
    help: "MTU of both ends (default: the uplink's path MTU, followed as it changes)",
    check: fromString(checkMtu),
  },
  guestToGuest: { flag: '--guest-to-guest', help: 'allow traffic with other guests that allow it too', check: checkBoolean },
  uplink: { flag: '--uplink <if>', help: 'uplink (default: interface of the default route)', check: checkIfName },
  dns: { flag: '--dns <ip,...>', help: "resolvers for the guest (default: the host's own)", check: checkDnsList },
  timeout: { flag: '--timeout <ms>', help: 'how long to wait for the guest agent', check: fromString(checkTimeout) },
  commandTimeout: {
    flag: '--command-timeout <ms>',
    help: `how long one system command (ip, nft, iptables) may run before it is killed (default ${DEFAULT_COMMAND_DEADLINE_MS})`,
    check: fromString(checkTimeout),
  },
  socket: { flag: '--socket <path>', help: 'guest agent socket, as the host sees it', check: checkPath },
  stateDir: { flag: '--state-dir <dir>', help: 'where the host remembers attachments', check: checkPath },
  firewall: { flag: '--firewall <backend>', help: 'auto, nftables, iptables or iptables-legacy', check: checkFirewall },
  platform: { flag: '--platform <name>', help: 'auto, linux or android (netd policy routing)', check: checkPlatform },
};

/** A setting's help, with its default unless the help already tells it (a default that depends on the host). */
export function helpOf(key: Key): string {
  const { help } = SETTINGS[key];
  const value = DEFAULTS[key];
  if (help.includes('(default') || value === undefined || typeof value === 'boolean') return help;
  return `${help} (default: ${String(value)})`;
}

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
