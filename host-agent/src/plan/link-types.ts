import { createHash } from 'node:crypto';
import type { HostObserved } from '../model/host.js';
import type { AttachmentRecord } from '../model/record.js';
import type { SetupOp } from './ops.js';

// What the plans and steps of the types other than the routed veth share
// (drivers/): the names they give links and nftables tables.

/** A short name for the moment a link spends in the host's netns between its move and its setup. */
export const passingName = (r: Pick<AttachmentRecord, 'id'>) => `gn${createHash('sha256').update(r.id).digest('hex').slice(0, 12)}`;

/** The nftables table that locks a bridged guest's port (exec/port-guard.ts): one per record. */
export const portGuardTable = (r: Pick<AttachmentRecord, 'id'>): string => `bridge guestnet_port_${r.id}`;

/**
 * The daemon's loop: a lock that someone removed while its port is still
 * there (a firewall reload that flushed every table) is made again. A DHCP
 * guest's learned addresses went with it; its next renewal teaches them again.
 */
export function planPortGuardRepair(observed: Pick<HostObserved, 'links' | 'records'>, tables: ReadonlySet<string>): SetupOp[] {
  return observed.records
    .flatMap((r) =>
      r.type === 'bridged-veth' && r.portSecurity && observed.links.has(r.hostIf) && !tables.has(portGuardTable(r)) ? [r] : [],
    )
    .map((record) => ({ kind: 'addPortGuard', record }));
}
