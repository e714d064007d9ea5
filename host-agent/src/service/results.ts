import type { OpTiming } from '../exec/apply.js';
import { type AttachmentRecord, guestEndShown, hasGuestLink, type ShownRecord } from '../model/record.js';
import type { LeaseConfirmation } from '../guest-config/dhcp-service.js';
import type { GuestConfirmation } from '../guest-link/exchange.js';
import type { DetachResult as ServiceDetachResult } from './host-side.js';

/** What the CLI and the control socket report of an attach: the record without its secret. */
export interface AttachResult {
  attachment: ShownRecord;
  firewall: string;
  changed: boolean;
  steps: OpTiming[];
  /**
   * The guest side: its agent's confirmation; with --guest-config dhcp, its
   * DHCP client's lease (--wait-lease) or 'dhcp-served'; with host,
   * 'configured-by-host'.
   */
  guest: GuestConfirmation | LeaseConfirmation | 'configured-by-host' | 'dhcp-served' | 'not-waited' | 'dry-run';
}

export function attachResult(
  attached: { record: AttachmentRecord; firewall: string; changed: boolean; steps: OpTiming[] },
  guest: AttachResult['guest'],
): AttachResult {
  const { token, ...attachment } = attached.record;
  return {
    attachment: (hasGuestLink(attached.record) ? { ...attachment, guestIf: guestEndShown(attached.record) } : attachment) as ShownRecord,
    firewall: attached.firewall,
    changed: attached.changed,
    steps: attached.steps,
    guest,
  };
}

/** What the CLI and the control socket report of a detach: keyed by the pid they were given. */
export type DetachResult = Omit<ServiceDetachResult, 'id'> & { pid: number };

export function detachResultFor(pid: number, { id, ...result }: ServiceDetachResult): DetachResult {
  return { pid, ...result };
}

/** What the CLI and the control socket report of `detach --all`. */
export interface DetachAllResult {
  /** The guests detached: pids, or cni-<container>-<ifname>. */
  ids: string[];
  steps: OpTiming[];
}
