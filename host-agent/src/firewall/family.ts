import type { PortForward } from '../model/port-forward.js';
import type { GuestRule } from '../model/rules.js';

// Both backends write one description of the rules for both address
// families: what differs between IPv4 and IPv6 is a guest's addresses, and
// a few rules of each family's own (IPv4's loopback and DHCP, IPv6's
// neighbour discovery). A guest as one family sees it is what those rules are
// written from.

/** A guest as one address family's rules see it. */
export interface FamilyGuest {
  hostIf: string;
  /** How iptables matches its link: the prefix's wildcard, or the exact name (GuestRule.linkFamily). */
  linkFamily: string;
  address: string;
  /** The host end's address in this family: the guest's gateway. */
  gateway: string;
  /** The guest's subnet or prefix, as a CIDR. */
  pool: string;
  uplink: string;
  /** Masqueraded to the uplink's address when it leaves; IPv6's routed guests keep theirs. */
  masquerade: boolean;
  openToGuests: boolean;
  /** The port forwards this family carries. */
  forwards: PortForward[];
  /** A `--guest-config dhcp` guest's own MAC (GuestRule.dhcp): IPv4's only, DHCP being IPv4's. */
  dhcp?: { mac: string };
  /**
   * Whether the daemon's DNS forwarder answers this guest at its gateway in
   * this family: every guest over IPv4; over IPv6 only a dhcp guest, whose
   * router advertisements name the gateway as RDNSS (guest-config/ra-service.ts).
   */
  dnsAtGateway: boolean;
}

export type FamilyName = '4' | '6';

export const ipv4Guest = (rule: GuestRule): FamilyGuest => ({
  hostIf: rule.hostIf,
  linkFamily: rule.linkFamily,
  address: rule.guestAddress,
  gateway: rule.gateway,
  pool: rule.pool,
  uplink: rule.uplink,
  masquerade: true,
  openToGuests: rule.openToGuests,
  forwards: rule.forwards,
  ...(rule.dhcp ? { dhcp: rule.dhcp } : {}),
  dnsAtGateway: true,
});

/** A guest's IPv6 side, if it has one. Forwards bound to an IPv4 host address have no IPv6 side. */
export function ipv6Guest(rule: GuestRule): FamilyGuest | undefined {
  const v6 = rule.ipv6;
  if (!v6) return undefined;
  return {
    hostIf: rule.hostIf,
    linkFamily: rule.linkFamily,
    address: v6.guestAddress,
    gateway: v6.gateway,
    pool: v6.pool,
    uplink: v6.uplink,
    masquerade: v6.masquerade,
    openToGuests: rule.openToGuests,
    forwards: rule.forwards.filter((f) => f.hostAddress === undefined),
    dnsAtGateway: rule.dhcp !== undefined,
  };
}

/** The guests of a family, in order. */
export const guestsOf = (view: (rule: GuestRule) => FamilyGuest | undefined, rules: readonly GuestRule[]): FamilyGuest[] =>
  rules.flatMap((rule) => view(rule) ?? []);

export const unique = <T>(items: readonly T[], key: (item: T) => string): T[] => [...new Map(items.map((i) => [key(i), i])).values()];
