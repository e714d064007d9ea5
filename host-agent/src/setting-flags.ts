import { DEFAULT_COMMAND_DEADLINE_MS } from '@guestnet/runtime';
import { DEFAULT_GUEST_IF, type HostSettings } from './model/settings.js';

// Each setting's flag, help and default: what the CLI shows. Their checks are
// in settings.ts, which only a command that reads settings loads.

export const DEFAULT_CONFIG_PATH = '/etc/guestnet/host.json';

export const DEFAULTS: HostSettings = {
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

export type Key = keyof HostSettings;

interface SettingFlag {
  flag: string;
  help: string;
}

/** The flags of the single table behind the flags, the config keys and their validation (settings.ts). */
export const SETTING_FLAGS: Record<Key, SettingFlag> = {
  type: {
    flag: '--type <type>',
    help: 'veth, macvlan, ipvlan, vlan, phys, empty or none, as lxc.net.N.type',
  },
  link: {
    flag: '--link <if>',
    help: 'veth: a bridge to join (no NAT); macvlan, ipvlan, vlan: the parent; phys: the NIC to hand over',
  },
  vlanId: { flag: '--vlan-id <n>', help: 'the VLAN id of --type vlan' },
  macvlanMode: { flag: '--macvlan-mode <mode>', help: 'bridge, private, vepa or passthru' },
  ipvlanMode: { flag: '--ipvlan-mode <mode>', help: 'l2, l3 or l3s' },
  force: { flag: '--force', help: 'with phys: hand over the uplink itself' },
  dhcp: {
    flag: '--dhcp',
    help: "the guest takes its address from the network's DHCP server (not for the routed veth)",
  },
  portSecurity: {
    flag: '--port-security <mode>',
    help: "on: a bridge port passes only the guest's own MAC and addresses; off: the guest is a full layer-2 peer (default: on)",
  },
  hostIf: { flag: '--host-if <name>', help: 'host end of the veth pair (default: first free vm_wlan, vm_wlan1, ...)' },
  hostIfPrefix: { flag: '--host-if-prefix <name>', help: 'prefix of generated host link names' },
  guestIf: {
    flag: '--guest-if <name>',
    help: 'guest end, as created in the guest (default: vm_wlan0, or a one-time name while attach waits)',
  },
  guestName: {
    flag: '--guest-name <name>',
    help: "the guest end's name in the guest: its agent renames the link to it; with --guest-config dhcp or host it is made under it",
  },
  guestConfig: {
    flag: '--guest-config <mode>',
    help:
      "who configures the guest's end: agent (its guest agent), dhcp (its own DHCP client, answered by host-agent serve) " +
      "or host (the host, inside the guest's netns; its DNS is the caller's)",
  },
  gateway: { flag: '--gateway <ip>', help: "host end address, the guests' default gateway" },
  pool: { flag: '--pool <cidr>', help: 'where guest addresses come from; the subnet guests see' },
  guestAddress: { flag: '--guest-address <ip>', help: 'guest address (default: next free in the pool)' },
  ipv6: {
    flag: '--ipv6 <mode>',
    help: 'auto, off, nat (a ULA address, masqueraded) or routed (an address from --pool6, no NAT)',
  },
  pool6: {
    flag: '--pool6 <cidr>',
    help: "guests' IPv6 prefix (default: a unique local /64 derived from the machine id)",
  },
  mtu: {
    flag: '--mtu <bytes>',
    help: "MTU of both ends (default: the uplink's path MTU, followed as it changes)",
  },
  guestToGuest: { flag: '--guest-to-guest', help: 'allow traffic with other guests that allow it too' },
  uplink: { flag: '--uplink <if>', help: 'uplink (default: interface of the default route)' },
  dns: { flag: '--dns <ip,...>', help: "resolvers for the guest (default: the host's own)" },
  timeout: { flag: '--timeout <ms>', help: 'how long to wait for the guest agent' },
  commandTimeout: {
    flag: '--command-timeout <ms>',
    help: `how long one system command (ip, nft, iptables) may run before it is killed (default ${DEFAULT_COMMAND_DEADLINE_MS})`,
  },
  socket: { flag: '--socket <path>', help: 'guest agent socket, as the host sees it' },
  stateDir: { flag: '--state-dir <dir>', help: 'where the host remembers attachments' },
  firewall: { flag: '--firewall <backend>', help: 'auto, nftables, iptables or iptables-legacy' },
  platform: { flag: '--platform <name>', help: 'auto, linux or android (netd policy routing)' },
};

/** A setting's help, with its default unless the help already tells it (a default that depends on the host). */
export function helpOf(key: Key): string {
  const { help } = SETTING_FLAGS[key];
  const value = DEFAULTS[key];
  if (help.includes('(default') || value === undefined || typeof value === 'boolean') return help;
  return `${help} (default: ${String(value)})`;
}
