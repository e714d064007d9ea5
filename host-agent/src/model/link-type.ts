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

/**
 * Whether a NIC's alias can be given back: it goes back quoted in an
 * `ip -batch` line, so no quote, backslash or newline, and a record holding
 * it must read back (state/records.ts checks the same).
 */
export const isRestorableAlias = (alias: string): boolean => /^[^"\n\\]{0,200}$/.test(alias);

/** The kind of a record: the link type, with the veth told apart by whether it is routed or a bridge's port. */
export const RECORD_TYPES = ['routed-veth', 'bridged-veth', 'macvlan', 'ipvlan', 'vlan', 'phys', 'empty', 'none'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/** The record type that settings (--type and --link) ask for: a veth with a link is a bridge's port. */
export function recordTypeOf(settings: { type: LinkType; link?: string | undefined }): RecordType {
  if (settings.type !== 'veth') return settings.type;
  return settings.link === undefined ? 'routed-veth' : 'bridged-veth';
}

/** Whether a guest of this type has a link its agent configures (address, route, DNS). */
export const hasGuestLinkType = (type: RecordType): boolean => type !== 'empty' && type !== 'none';

/** How status and messages name a guest's network. */
export function describeType(record: { type: RecordType; link?: string | undefined; vlanId?: number | undefined }): string {
  switch (record.type) {
    case 'routed-veth':
      return 'veth (routed)';
    case 'bridged-veth':
      return `veth on bridge ${record.link ?? '?'}`;
    case 'vlan':
      return `vlan ${record.vlanId ?? '?'} on ${record.link ?? '?'}`;
    default:
      return record.link === undefined ? record.type : `${record.type} on ${record.link}`;
  }
}
