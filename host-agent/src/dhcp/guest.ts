// What the DHCP server needs to know of a guest, and nothing else: the daemon
// answers "who owns this MAC" from its records. The server never picks an
// address: the lease is the one attach allocated (plan/lease.ts), the same
// for the same guest every time.

export interface DhcpGuest {
  /** The host end of the guest's link (vm_wlan): the only link its replies may take. */
  link: string;
  /** The MAC the host gave the guest's end of the link, lower case: how a request names its guest. */
  mac: string;
  /** The guest's address: its lease. The host routes it over `link` only, as a /32. */
  address: string;
  /** The prefix length of the guest's view of its network (the pool's). */
  prefixLength: number;
  /** The gateway on the guest's link: router, server identifier, and where the DNS forwarder listens. */
  gateway: string;
  mtu: number;
  /** Resolvers to hand out: the daemon's forwarder on the gateway. */
  dns: readonly string[];
}

/** The guest whose link carries `mac`, or undefined: a request from any other MAC is dropped. */
export type DhcpLookup = (mac: string) => DhcpGuest | undefined;

export interface LeaseTiming {
  /** Option 51. Renewal (T1) is at half of it and rebinding (T2) at seven eighths, as RFC 2131 suggests. */
  leaseSeconds: number;
}

/** An hour: a guest renews every half hour, and a daemon restart is never long enough to matter. */
export const DEFAULT_LEASE_SECONDS = 3600;
