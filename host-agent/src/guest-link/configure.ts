import type { GuestConfig } from '@guestnet/protocol';
import { type AttachmentRecord, guestLabel, hasGuestLink, isRouted } from '../model/record.js';

/** What the guest is to make of its link, from the attachment's record. */
/** Only a guest with a link has a configuration: an attach of empty or none never asks for one. */
export function guestConfigOf(record: AttachmentRecord): GuestConfig {
  if (!hasGuestLink(record)) throw new Error(`${guestLabel(record)} is attached as ${record.type}: it has no link to configure`);
  const ipv6 = isRouted(record) ? record.ipv6 : undefined;
  return {
    token: record.token,
    link: {
      rename: record.guestName,
      mtu: record.mtu,
      // A DHCP guest's address is the lease's; these placeholders mean nothing (protocol/README.md).
      address: record.dhcp ? '0.0.0.0' : record.guestAddress,
      prefixLength: record.dhcp ? 1 : record.prefixLength,
      gateway: record.dhcp ? '0.0.0.0' : record.hostAddress,
      ...(record.dhcp ? { dhcp: true as const } : {}),
      ...(ipv6 ? { ipv6: { address: ipv6.guestAddress, prefixLength: ipv6.prefixLength, gateway: ipv6.hostAddress } } : {}),
    },
    dns: record.dns,
  };
}
