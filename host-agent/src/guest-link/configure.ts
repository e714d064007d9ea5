import type { Configure } from '@guestnet/protocol';
import type { AttachmentRecord } from '../model/record.js';

/** What the guest agent is told to make of its link. */
export function configureMessage(record: AttachmentRecord): Configure {
  return {
    type: 'configure',
    token: record.token,
    link: {
      name: record.guestIf,
      rename: record.guestName,
      mtu: record.mtu,
      address: record.guestAddress,
      prefixLength: record.prefixLength,
      gateway: record.hostAddress,
    },
    dns: record.dns,
  };
}
