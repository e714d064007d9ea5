import type { GuestConfig } from '@guestnet/protocol';
import type { AttachmentRecord } from '../model/record.js';

/** What the guest is to make of its link, from the attachment's record. */
export function guestConfigOf(record: AttachmentRecord): GuestConfig {
  return {
    token: record.token,
    link: {
      name: record.guestIf,
      rename: record.guestName,
      mtu: record.mtu,
      address: record.guestAddress,
      prefixLength: record.prefixLength,
      gateway: record.hostAddress,
      ...(record.ipv6 ? { ipv6: { address: record.ipv6.guestAddress, prefixLength: record.ipv6.prefixLength, gateway: record.ipv6.hostAddress } } : {}),
    },
    dns: record.dns,
  };
}
