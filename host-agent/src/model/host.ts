import type { Ipv6ForwardingBefore } from './ipv6.js';
import type { PolicyState } from './policy.js';
import type { AttachmentRecord } from './record.js';
import type { FirewallState } from './rules.js';

/** A route of the main table. */
export interface Route {
  /** "default" or address[/prefix]. */
  dst: string;
  dev: string;
  metric?: number;
}

/** What the host looks like right now, as far as attach and detach care. */
export interface HostObserved {
  links: ReadonlySet<string>;
  /** The aliases of the links observed that have one. */
  aliases: ReadonlyMap<string, string>;
  /** The MTU of each link observed. */
  mtus: ReadonlyMap<string, number>;
  /** The link group of each link observed, where a deep look read it. */
  groups: ReadonlyMap<string, number>;
  /** The links observed that are not up, where a deep look read it. */
  down?: ReadonlySet<string>;
  /** The main table's IPv4 routes. */
  routes: readonly Route[];
  ipForward: string;
  /** Saved by the attach that turned ip_forward on. */
  ipForwardBefore: string | undefined;
  /** IPv6 as far as guests care; absent where IPv6 was not looked at. */
  ipv6?: HostIpv6;
  records: readonly AttachmentRecord[];
  firewall: FirewallState;
  policy: PolicyState;
}

export interface HostIpv6 {
  /** net.ipv6.conf.all.forwarding; undefined when the kernel has IPv6 off (ipv6.disable=1, or disable_ipv6). */
  forwarding: string | undefined;
  /** Saved by the attach that turned it on. */
  before: Ipv6ForwardingBefore | undefined;
  /** accept_ra of each interface and of "default". */
  acceptRa: ReadonlyMap<string, string>;
  /** The IPv6 default routes of every table. */
  defaults: readonly Route[];
  /** Interfaces with a global IPv6 address. */
  global: ReadonlySet<string>;
  /** The global addresses with their prefixes: where a routed guest's prefix is on-link, the upstream asks for it by neighbour discovery. */
  onLink: readonly OnLinkPrefix[];
  /** proxy_ndp of each interface, and as found before guestnet turned it on. */
  proxyNdp: ReadonlyMap<string, string>;
  proxyNdpBefore: ReadonlyMap<string, string>;
  /** Neighbour proxy entries, as "address dev". */
  ndProxies: ReadonlySet<string>;
}

export interface OnLinkPrefix {
  dev: string;
  address: string;
  prefixLength: number;
}

/** The interface of the IPv6 default route with the lowest metric, in main or (netd) any table. */
export function ipv6Uplink(ipv6: Pick<HostIpv6, 'defaults'>): string | undefined {
  return [...ipv6.defaults].sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0]?.dev;
}

/** The interface of the IPv4 default route with the lowest metric. */
export function defaultRouteInterface(routes: readonly Route[]): string | undefined {
  return routes.filter((r) => r.dst === 'default').sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0]?.dev;
}

/**
 * The largest packet that leaves by `uplink` in one piece, as far as the host
 * knows: the link's MTU, or less when a default route through it says so.
 */
export function pathMtu(observed: Pick<HostObserved, 'mtus' | 'policy'>, uplink: string): number | undefined {
  const link = observed.mtus.get(uplink);
  const routes = observed.policy.defaults.filter((d) => d.dev === uplink && d.mtu !== undefined).map((d) => d.mtu as number);
  const known = [...(link === undefined ? [] : [link]), ...routes];
  return known.length > 0 ? Math.min(...known) : undefined;
}
