import { ONE_TIME_NAME, ONE_TIME_NAME_SHOWN, oneTimeNameOf } from '@guestnet/protocol';
import type { GuestIpv6 } from './ipv6.js';
import { hasGuestLinkType, type IpvlanMode, type MacvlanMode, type PhysBefore, type RecordType } from './link-type.js';
import type { FirewallName } from './names.js';
import type { PortForward } from './port-forward.js';

/** Which guest an attachment is for: a process (attach <pid>) or a CNI container. */
export interface GuestIdentity {
  /** The key of the attachment and its record file: the pid, or cni-<container id>-<ifname>. */
  id: string;
  /** Absent for CNI containers, which may have no process yet. */
  pid?: number;
  /** Where to enter the guest's netns: /proc/<pid>/ns/net, or the runtime's CNI_NETNS. */
  netnsPath: string;
  /** The netns as net:[inode]: tells a live guest from a reused pid or a recreated netns. */
  netns: string;
  /** `network`: the network config's name, which CNI GC goes by. */
  cni?: { containerId: string; ifname: string; network?: string };
}

/** How messages name a guest. */
export function guestLabel(guest: Pick<GuestIdentity, 'pid' | 'cni'>): string {
  return guest.cni ? `container ${guest.cni.containerId.slice(0, 12)}` : `pid ${guest.pid}`;
}

// CNI container ids are letters, digits, '_', '.' and '-': safe as a file name.
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/;

/** What every record has, whatever its type. */
export interface RecordBase extends GuestIdentity {
  /** The secret in the guest link's alias that identifies its guest agent. */
  token: string;
  /** The backend its rules are in; every guest of a state dir shares one. */
  firewall: FirewallName;
  /** The host link carries hostLinkAlias(this): only a link with it is ours to delete. Unset in records of older versions. */
  tagged?: true;
  /**
   * Set while a new attachment's host side is complete and its caller waits
   * for the guest side: if the agent dies now, nobody was told it succeeded,
   * so recovery rolls it back instead of completing it.
   */
  awaitingGuest?: true;
  /**
   * Set when removing the attachment (a detach, or an attach's rollback)
   * failed part way: the record stays until every piece is gone, so that a
   * later detach, attach or the daemon's reconcile removes the rest, and
   * nothing puts the pieces back meanwhile.
   */
  undoing?: true;
}

/** A link in the guest, which its agent renames and configures. */
interface GuestLinkFields {
  /** The guest end's name as created, and the name the guest agent gives it. */
  guestIf: string;
  guestName: string;
  guestMac: string;
  mtu: number;
  dns: string[];
}

/** Addresses attach chose: the gateway, and the guest's in the pool's prefix (the subnet the guest sees). */
export interface StaticAddresses {
  dhcp?: undefined;
  hostAddress: string;
  guestAddress: string;
  prefixLength: number;
}

/** The guest takes its address from the network's DHCP server: attach chose none. */
interface DhcpAddresses {
  dhcp: true;
  hostAddress?: undefined;
  guestAddress?: undefined;
  prefixLength?: undefined;
}

/** A guest that joins a network that exists (a bridge, a parent's LAN, a NIC's): a static address from its pool, or DHCP. */
type JoinedAddresses = StaticAddresses | DhcpAddresses;

/** The guest link of a guest that joins a network, with its addresses. */
export type JoinedLink = GuestLinkFields & JoinedAddresses;

/** Today's veth: an addressed host end, forwarding, NAT and guestnet's rules. */
export interface RoutedVethRecord extends RecordBase, GuestLinkFields, StaticAddresses {
  type: 'routed-veth';
  /**
   * Who configures the guest's end (model/guest-config.ts). Unset: its guest
   * agent for a process, the host for a CNI container (what every version did).
   */
  guestConfig?: 'agent' | 'dhcp' | 'host';
  /** The host end. */
  hostIf: string;
  /** Set when hostIf was named from this prefix: the guest shares its firewall rules with the prefix's family. */
  hostIfPrefix?: string;
  /** Unset: IPv4 only. */
  ipv6?: GuestIpv6;
  /**
   * Set when --ipv6 auto chose for a guest with an agent: its IPv6 (nat, from
   * this pool) comes and goes with the host's, by the daemon's reconcile loop.
   */
  ipv6Auto?: { pool6: string };
  /** May exchange traffic with other guests that allow it too. */
  guestToGuest: boolean;
  uplink: string;
  /** On a netd-style host (Android): the uplink's routing table, which the guest's ip rule looks up. */
  policyTable?: number;
  /** Set when --uplink chose it: otherwise the uplink follows the host's default route. */
  uplinkPinned?: true;
  /** Set when --mtu chose it: otherwise the MTU follows the uplink's path MTU. */
  mtuPinned?: true;
  /** Host ports forwarded to this guest. */
  forwards: PortForward[];
}

/** A veth whose host end is a port of the bridge `link`. */
export type BridgedVethRecord = RecordBase &
  GuestLinkFields &
  JoinedAddresses & {
    type: 'bridged-veth';
    link: string;
    /** The host end: the bridge's port. */
    hostIf: string;
    hostIfPrefix?: string;
    /** The port lets through only the guest's own MAC and addresses (exec/port-guard.ts). */
    portSecurity?: true;
  };

/** A link made from the parent `link`, directly in the guest. */
export type SublinkRecord = RecordBase &
  GuestLinkFields &
  JoinedAddresses & { link: string } & (
    | { type: 'macvlan'; macvlanMode: MacvlanMode }
    | { type: 'ipvlan'; ipvlanMode: IpvlanMode }
    | { type: 'vlan'; vlanId: number }
  );

/** The host's NIC `link`, handed to the guest. */
export type PhysRecord = RecordBase &
  GuestLinkFields &
  JoinedAddresses & {
    type: 'phys';
    link: string;
    /** The NIC as it was, to give back. */
    phys: PhysBefore;
  };

/** A guest given its loopback up and no other link. */
export interface EmptyRecord extends RecordBase {
  type: 'empty';
}

/** A guest whose network nothing touches. */
export interface NoneRecord extends RecordBase {
  type: 'none';
}

/**
 * What attach did for one guest, written before the first kernel change so
 * that detach (or a later recovery) always knows what to remove. Each type
 * carries its own fields; records of older versions are upgraded when read
 * (state/records.ts).
 */
export type AttachmentRecord = RoutedVethRecord | BridgedVethRecord | SublinkRecord | PhysRecord | EmptyRecord | NoneRecord;

/** A record whose guest has a link its agent configures. */
export type LinkedRecord = RoutedVethRecord | BridgedVethRecord | SublinkRecord | PhysRecord;

/** A record with a host end: a veth's. */
export type VethRecord = RoutedVethRecord | BridgedVethRecord;

/** A record as reports show it: without its secret. */
export type Shown<R extends AttachmentRecord> = R extends unknown ? Omit<R, 'token'> : never;
export type ShownRecord = Shown<AttachmentRecord>;

type Typed = { type: RecordType };

/** Today's veth: addressed host end, forwarding, NAT and guestnet's rules. */
export const isRouted = <R extends Typed>(r: R): r is Extract<R, { type: 'routed-veth' }> => r.type === 'routed-veth';
/** A veth whose host end is a port of an existing bridge. */
export const isBridged = <R extends Typed>(r: R): r is Extract<R, { type: 'bridged-veth' }> => r.type === 'bridged-veth';
/** A link created from a parent on the host, directly in the guest. */
export const isSublink = (r: AttachmentRecord): r is SublinkRecord => r.type === 'macvlan' || r.type === 'ipvlan' || r.type === 'vlan';
/** Whether the guest's link is configured by its agent (address, route, DNS). */
export const hasGuestLink = <R extends Typed>(r: R): r is Exclude<R, { type: 'empty' | 'none' }> => hasGuestLinkType(r.type);
export const hasHostEnd = <R extends Typed>(r: R): r is Extract<R, { type: 'routed-veth' | 'bridged-veth' }> =>
  r.type === 'routed-veth' || r.type === 'bridged-veth';
/** The address attach chose for the guest; undefined for DHCP guests and the types without a link. */
export const guestAddressOf = (r: AttachmentRecord): string | undefined => (hasGuestLink(r) ? r.guestAddress : undefined);
/** The addresses attach chose for the guest, IPv4's and, where it has one, IPv6's: what it may send from. */
export const guestAddressesOf = (r: AttachmentRecord): string[] => [
  ...(hasGuestLink(r) && r.guestAddress !== undefined ? [r.guestAddress] : []),
  ...(isRouted(r) && r.ipv6 ? [r.ipv6.guestAddress] : []),
];
/** The host end of a veth; undefined for the types that have none. */
export const hostEndOf = (r: AttachmentRecord): string | undefined => (hasHostEnd(r) ? r.hostIf : undefined);

/** The ops that change records; the record store (state/store.ts) carries them out. */
export type RecordOp =
  | { kind: 'writeRecord'; record: AttachmentRecord }
  /** Rewrites records in place (new forwards, a new uplink); undone by writing `before` back. */
  | { kind: 'updateRecords'; before: AttachmentRecord[]; after: AttachmentRecord[] }
  | { kind: 'deleteRecord'; id: string };

/**
 * The link group of every tagged host link: deleting a whole group is one
 * kernel transaction, where deleting links one by one pays a grace period
 * each. Shared by every state dir, so a group is only deleted whole when
 * each of its links is provably ours.
 */
export const HOST_LINK_GROUP = 26478;

/** The alias of a guest's host link: how guestnet tells its own link from a host's link that took the name later. */
export function hostLinkAlias(record: Pick<GuestIdentity, 'id'>): string {
  return `guestnet-host:${record.id}`;
}

/** The guest end's name as shown to people: a one-time name is (or was, before a rotation) the token, and is never shown. */
export function guestEndShown(record: Pick<LinkedRecord, 'guestIf'>): string {
  return ONE_TIME_NAME.test(record.guestIf) ? ONE_TIME_NAME_SHOWN : record.guestIf;
}

/**
 * Whether `record`'s token is still its guest end's one-time first name. The
 * kernel logs that name, in its one host-wide log, when the guest agent renames
 * the link: such a token is rotated once its guest has been configured.
 */
export function tokenIsFirstName(record: AttachmentRecord): boolean {
  return hasGuestLink(record) && oneTimeNameOf(record.token) === record.guestIf;
}
