import type { GuestConfig } from '@guestnet/protocol';
import type { AttachmentRecord } from '../model/record.js';

/** What the guest is to make of its link, from the attachment's record. */
export function guestConfigOf(record: AttachmentRecord): GuestConfig {
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
      ...(record.ipv6
        ? { ipv6: { address: record.ipv6.guestAddress, prefixLength: record.ipv6.prefixLength, gateway: record.ipv6.hostAddress } }
        : {}),
    },
    dns: record.dns,
  };
}
