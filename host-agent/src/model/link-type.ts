import type { NicIdentity } from './nic.js';

// The network types of the design (LXC's lxc.net.N.type), and what each
// needs of the host. Only the routed veth is NATed and firewalled by
// guestnet; the others put the guest on a network that already exists.

export const LINK_TYPES = ['veth', 'macvlan', 'ipvlan', 'vlan', 'phys', 'empty', 'none'] as const;
export type LinkType = (typeof LINK_TYPES)[number];
export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;
export type MacvlanMode = (typeof MACVLAN_MODES)[number];
export const IPVLAN_MODES = ['l2', 'l3', 'l3s'] as const;
export type IpvlanMode = (typeof IPVLAN_MODES)[number];

/**
 * What the host cannot see from its own netns but a typed guest's attach is
 * made of: a macvlan, ipvlan or vlan inside the guest, an empty guest's
 * loopback up. Looked at only where an attach may be incomplete.
 */
export interface GuestSeen {
  /** A link of guestnet's link group is in the guest. */
  ourLink: boolean;
  loopbackUp: boolean;
  /** phys: the host link under the NIC's name, when it is the recorded NIC (a restart then completes the handover). */
  nicOnHost?: boolean;
}

/** A NIC handed to a guest, as it was on the host: what detach gives it back. */
export interface PhysBefore {
  addresses: string[];
  up: boolean;
  mtu: number;
  alias: string;
  /** Which NIC it is. Unset in records of older versions. */
  nic?: NicIdentity;
}

/** What of a record or settings decides its type. */
type Typed = { type?: LinkType | undefined; link?: string | undefined };

export const typeOf = (record: Typed): LinkType => record.type ?? 'veth';

/** Today's veth: addressed host end, forwarding, NAT and guestnet's rules. */
export const isRouted = (record: Typed): boolean => typeOf(record) === 'veth' && record.link === undefined;

/** A veth whose host end is a port of an existing bridge. */
export const isBridged = (record: Typed): boolean => typeOf(record) === 'veth' && record.link !== undefined;

/** A link created from a parent on the host, directly in the guest. */
export const isSublink = (record: Typed): boolean => ['macvlan', 'ipvlan', 'vlan'].includes(typeOf(record));

/** Whether the guest's link is configured by its agent (address, route, DNS). */
export const hasGuestLink = (record: Typed): boolean => !['empty', 'none'].includes(typeOf(record));

/** How status and messages name a guest's network. */
export function describeType(record: Typed & { vlanId?: number | undefined }): string {
  const type = typeOf(record);
  if (type === 'veth') return record.link === undefined ? 'veth (routed)' : `veth on bridge ${record.link}`;
  if (type === 'vlan') return `vlan ${record.vlanId ?? '?'} on ${record.link ?? '?'}`;
  return record.link === undefined ? type : `${type} on ${record.link}`;
}
