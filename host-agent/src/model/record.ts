import { ONE_TIME_NAME, ONE_TIME_NAME_SHOWN } from '@guestnet/protocol';
import type { GuestIpv6 } from './ipv6.js';
import type { IpvlanMode, LinkType, MacvlanMode, PhysBefore } from './link-type.js';
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

/**
 * What attach did for one guest, written before the first kernel change so
 * that detach (or a later recovery) always knows what to remove.
 */
export interface AttachmentRecord extends GuestIdentity {
  /** Unset in records of older versions: veth. */
  type?: LinkType;
  /** The bridge of a bridged veth, the parent of a macvlan, ipvlan or vlan, the NIC of phys. */
  link?: string;
  vlanId?: number;
  macvlanMode?: MacvlanMode;
  ipvlanMode?: IpvlanMode;
  /** The guest takes its address from the network's DHCP server: guestAddress and hostAddress are then 0.0.0.0. */
  dhcp?: true;
  /** phys: the NIC as it was, to give back. */
  phys?: PhysBefore;
  /** A bridged veth whose port lets through only the guest's own MAC and addresses (exec/port-guard.ts). */
  portSecurity?: true;
  /** The host end of a veth; for other types, `link` or "lo": they have no host end. */
  hostIf: string;
  /** Set when hostIf was named from this prefix: the guest shares its firewall rules with the prefix's family. */
  hostIfPrefix?: string;
  /** The guest end's name as created, and the name the guest agent gives it. */
  guestIf: string;
  guestName: string;
  /** The gateway, on the host end. */
  hostAddress: string;
  guestAddress: string;
  /** The pool's prefix: the subnet the guest sees. */
  prefixLength: number;
  guestMac: string;
  mtu: number;
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
  dns: string[];
  /** The secret in the guest link's alias that identifies its guest agent. */
  token: string;
  /** Host ports forwarded to this guest. */
  forwards: PortForward[];
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
}

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
export function guestEndShown(record: Pick<AttachmentRecord, 'guestIf'>): string {
  return ONE_TIME_NAME.test(record.guestIf) ? ONE_TIME_NAME_SHOWN : record.guestIf;
}
