import type { GuestConfigMode } from './guest-config.js';
import type { Ipv6Choice } from './ipv6.js';
import type { IpvlanMode, LinkType, MacvlanMode } from './link-type.js';
import type { FirewallChoice, Platform } from './names.js';

/** The guest end's name in the design: a guest agent renames it, a guest without one finds it by this name. */
export const DEFAULT_GUEST_IF = 'vm_wlan0';

/** Everything attach needs to know. Built-in defaults reproduce the original design. */
export interface HostSettings {
  /** veth (routed, or bridged with `link`), macvlan, ipvlan, vlan, phys, empty or none. */
  type: LinkType;
  /** The bridge (veth), the parent (macvlan, ipvlan, vlan) or the NIC (phys). */
  link: string | undefined;
  vlanId: number | undefined;
  macvlanMode: MacvlanMode;
  ipvlanMode: IpvlanMode;
  /** Hand over the uplink itself with phys. */
  force: boolean;
  /** The guest takes a lease from the network it joins (not for the routed veth). */
  dhcp: boolean;
  /** A bridged guest's port lets through only its own MAC and addresses; off: a full layer-2 peer of the LAN. */
  portSecurity: boolean;
  /** Unset: the first free of hostIfPrefix, hostIfPrefix1, hostIfPrefix2, ... */
  hostIf: string | undefined;
  hostIfPrefix: string;
  /** The guest end's name as created; an attach that waits for the guest agent makes its default a one-time name. */
  guestIf: string;
  guestName: string;
  /** Who configures the guest's end: its guest agent, its own DHCP client (the daemon answers), or the host. */
  guestConfig: GuestConfigMode;
  /** The host end's address on every guest link, and each guest's default gateway. */
  gateway: string;
  /** Guests' addresses come from here; guests see it as their subnet. */
  pool: string;
  /** Unset: the next free address of the pool after the gateway. */
  guestAddress: string | undefined;
  ipv6: Ipv6Choice;
  /** Unset: a unique local /64 derived from the machine id (nat); routed needs one routed to the host. */
  pool6: string | undefined;
  /** Unset: the uplink's path MTU, followed while the daemon runs. */
  mtu: number | undefined;
  /** Let this guest reach other guests that allow it too (default: isolated). */
  guestToGuest: boolean;
  /** Unset: the interface of the default route. */
  uplink: string | undefined;
  /** Unset: the host's own non-loopback resolvers. */
  dns: string[] | undefined;
  /** Milliseconds to wait for the guest agent. */
  timeout: number;
  /** Milliseconds each system command (ip, nft, iptables) may run before it is killed and its step fails. */
  commandTimeout: number;
  socket: string;
  stateDir: string;
  /** auto: the backend the host's own rules use (see firewall/select.ts). */
  firewall: FirewallChoice;
  /** android: route guests the way netd's tethering does; auto: when the host routes like netd. */
  platform: Platform;
}
