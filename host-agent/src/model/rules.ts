import { bigIntToIpv6, networkOf } from '@guestnet/protocol';
import { type GuestIpv6, parsePool6 } from './ipv6.js';
import type { PolicyRoute } from './policy.js';
import type { PortForward } from './port-forward.js';
import { type AttachmentRecord, isBridged, isRouted, type RoutedVethRecord } from './record.js';

/** The nftables table guestnet owns, IPv4's (firewall/nftables4.ts). */
export const NFT_TABLE_NAME = 'ip guestnet';

/** DHCP requests a second a dhcp guest's link may send before the kernel drops them, on every backend; the server has its own, lower bound. */
export const DHCP_RATE_PER_LINK = 20;

/** The forwarding and NAT one guest needs: its link, its address, its uplink. */
export interface GuestRule {
  hostIf: string;
  /**
   * How iptables matches this guest's link: "vm_wlan+" for every link named
   * from the same prefix, so one set of rules serves them all and a packet's
   * path does not grow with the number of guests; the exact name otherwise.
   */
  linkFamily: string;
  /** The guest's subnet as a CIDR: what is masqueraded. */
  pool: string;
  guestAddress: string;
  /** The host end's address: the guest's gateway, where the daemon's DNS forwarder answers it. */
  gateway: string;
  uplink: string;
  /** May exchange traffic with other guests that are open too. */
  openToGuests: boolean;
  forwards: PortForward[];
  /** The guest's IPv6, with its own uplink: the IPv6 default route's. */
  ipv6?: GuestRule6;
  /** A `--guest-config dhcp` guest: its DHCP client may reach the daemon's server, with requests that carry its own MAC. */
  dhcp?: { mac: string };
}

export interface GuestRule6 {
  guestAddress: string;
  /** The host end's IPv6 address: the guest's IPv6 gateway. */
  gateway: string;
  /** The guest's prefix as a CIDR. */
  pool: string;
  uplink: string;
  /** nat: masqueraded to the uplink's address; routed guests keep theirs. */
  masquerade: boolean;
}

/**
 * What guestnet's firewall holds: whether its own table or chains exist, and
 * the guests in them. A backend turns two of these into the steps between
 * them; rollback is the same call with the two swapped.
 */
export interface FirewallContent {
  installed: boolean;
  guests: readonly GuestRule[];
  /**
   * The bridge ports of bridged guests (their host ends). Where the host
   * hands bridged frames to iptables (br_netfilter) and drops forwarded
   * traffic, as Docker's FORWARD policy does, a backend lets a guest's port
   * through; nftables' tables never drop what is not a guest link's.
   */
  bridgedPorts: readonly string[];
  /**
   * Only in an observed content: the backend's pieces found, counted (iptables: its jumps into the
   * host's chains; nftables: a table of another shape). Installing replaces exactly those in the
   * same atomic change, so no jump that was there is ever missing meanwhile; removing takes them too.
   */
  found?: Readonly<Record<string, number>>;
}

export const NO_FIREWALL: FirewallContent = { installed: false, guests: [], bridgedPorts: [] };

/**
 * What guestnet's firewall should hold for `records`, and the one place it
 * is derived from them: the routed guests' rules and the bridged guests'
 * ports. Nothing where there are neither.
 */
export function firewallOf(records: readonly AttachmentRecord[]): FirewallContent {
  const guests = records.filter(isRouted).map(ruleOf);
  const bridgedPorts = records.filter(isBridged).map((r) => r.hostIf);
  return guests.length > 0 || bridgedPorts.length > 0 ? { installed: true, guests, bridgedPorts } : NO_FIREWALL;
}

/**
 * Whether a guest's rules are in IPv6's chains, which exist while some guest's
 * are: a routed guest with IPv6, and with iptables a bridged guest's port.
 */
export const inIpv6Chains = (record: AttachmentRecord): boolean => (isRouted(record) && record.ipv6 !== undefined) || isBridged(record);

/** Whether every piece `record` needs of the firewall is in place (a type that needs none: true). */
export const firewallHolds = (firewall: FirewallState, record: AttachmentRecord): boolean =>
  isRouted(record) ? firewall.installed && firewall.has(ruleOf(record)) : isBridged(record) ? firewall.hasPort(record.hostIf) : true;

/** What the firewall holds of `records`, as observed, with whatever pieces of it were found. */
export const observedFirewall = (firewall: FirewallState, records: readonly AttachmentRecord[]): FirewallContent => ({
  ...(firewall.installed ? { ...firewallOf(records), installed: true } : NO_FIREWALL),
  ...(firewall.found ? { found: firewall.found } : {}),
});

const notLookedAt = (): never => {
  throw new Error("guestnet's firewall was not looked at: a plan of a type with rules needs a look that reads it");
};

/**
 * The firewall of a look that left it out (observe.ts, Scope.firewall), for
 * a type that has no rules: whatever is asked of it throws, so no plan ever
 * goes on from a guess.
 */
export const FIREWALL_NOT_LOOKED_AT: FirewallState = {
  get installed(): boolean {
    return notLookedAt();
  },
  get found(): undefined {
    return notLookedAt();
  },
  has: notLookedAt,
  hasPort: notLookedAt,
};

/** The firewall as observed: whether guestnet's base exists, and whether a guest's rules are all there. */
export interface FirewallState {
  installed: boolean;
  /** The backend's pieces found, counted (see FirewallContent); absent when there are none. */
  found?: Readonly<Record<string, number>>;
  /** True when every piece of `rule` is in place. */
  has(rule: GuestRule): boolean;
  /** True when a bridged guest's port is let through wherever the backend needs it to be (FirewallContent.bridgedPorts). */
  hasPort(port: string): boolean;
}

function ruleOf6(ipv6: GuestIpv6): GuestRule6 {
  const { network, prefixLength } = parsePool6(`${ipv6.guestAddress}/${ipv6.prefixLength}`);
  return {
    guestAddress: ipv6.guestAddress,
    gateway: ipv6.hostAddress,
    pool: `${bigIntToIpv6(network)}/${prefixLength}`,
    uplink: ipv6.uplink,
    masquerade: ipv6.mode === 'nat',
  };
}

export function ruleOf(record: RoutedVethRecord): GuestRule {
  const { hostIf, hostIfPrefix, guestAddress, prefixLength } = record;
  return {
    hostIf,
    // Only a name made from a prefix joins its family: a chosen --host-if such as eth5 must never become eth+.
    linkFamily: hostIfPrefix !== undefined && hostIf.startsWith(hostIfPrefix) ? `${hostIfPrefix}+` : hostIf,
    pool: `${networkOf(guestAddress, prefixLength)}/${prefixLength}`,
    guestAddress,
    gateway: record.hostAddress,
    uplink: record.uplink,
    openToGuests: record.guestToGuest,
    forwards: record.forwards,
    ...(record.ipv6 ? { ipv6: ruleOf6(record.ipv6) } : {}),
    ...(record.guestConfig === 'dhcp' ? { dhcp: { mac: record.guestMac } } : {}),
  };
}

/** The ip rule and table-97 route a guest needs on a netd-style host; undefined elsewhere. */
export function policyRouteOf(record: RoutedVethRecord): PolicyRoute | undefined {
  const { policyTable: table, hostIf, guestAddress, hostAddress: gateway } = record;
  if (table === undefined) return undefined;
  return { hostIf, guestAddress, gateway, table, ...(record.ipv6 ? { guestAddress6: record.ipv6.guestAddress } : {}) };
}
