import { type AttachmentRecord, isRouted, type RoutedVethRecord, type ShownRecord } from './record.js';

// Who configures the guest's end of its link. Only a routed veth's record
// carries it: a guest that joins a network (a bridge, a LAN) has that
// network's DHCP server or its agent.
//
// - agent: the guest agent inside the guest (the default);
// - dhcp: the guest's own DHCP client, answered by the daemon's DHCP server
//   (host-agent/src/dhcp), for stock images with no agent;
// - host: the host itself, inside the guest's netns, as the CNI plugin does.

export const GUEST_CONFIGS = ['agent', 'dhcp', 'host'] as const;
export type GuestConfigMode = (typeof GUEST_CONFIGS)[number];

/** Who configures a guest of this kind when its record says nothing: the plugin configures a CNI container itself. */
export const defaultGuestConfig = (guest: { cni?: unknown }): GuestConfigMode => (guest.cni === undefined ? 'agent' : 'host');

/** The mode of a record; records of older versions, guests of the default mode and the other types carry none. */
export const guestConfigModeOf = (record: AttachmentRecord | ShownRecord): GuestConfigMode =>
  (record.type === 'routed-veth' ? record.guestConfig : undefined) ?? defaultGuestConfig(record);

/** A guest whose own DHCP client the daemon answers. */
export const isDhcpGuest = (record: AttachmentRecord | undefined): record is RoutedVethRecord =>
  record !== undefined && isRouted(record) && record.guestConfig === 'dhcp';

/**
 * Where the daemon's DNS forwarder answers a guest: its IPv4 gateway, and for
 * a dhcp guest with IPv6 also its IPv6 gateway, the RDNSS its router
 * advertisements name (an agent guest is handed its resolvers by its agent).
 */
export const dnsAddressesOf = (record: AttachmentRecord): string[] =>
  isRouted(record) ? [record.hostAddress, ...(isDhcpGuest(record) && record.ipv6 ? [record.ipv6.hostAddress] : [])] : [];
