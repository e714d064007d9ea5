import { type GuestConfirmation, interrupted } from '../guest-link/exchange.js';
import { configureFromHost } from '../guest-config/from-host.js';
import type { GuestDhcp, LeaseConfirmation } from '../guest-config/dhcp-service.js';
import { guestConfigModeOf, isDhcpGuest } from '../model/guest-config.js';
import type { AttachmentRecord } from '../model/record.js';
import type { AgentView } from '../service/status.js';
import type { GuestServer } from './guests.js';

// The guest side of a daemon attach, by who configures the guest's end
// (model/guest-config.ts): its agent confirms, its DHCP client takes the
// lease (waited for only with --wait-lease), or the host configures it here.

export type DaemonGuestSide = GuestConfirmation | LeaseConfirmation | 'configured-by-host' | 'dhcp-served' | undefined;

export async function daemonGuestSide(
  record: AttachmentRecord,
  wait: { wait: boolean; timeoutMs: number; cancelled: AbortSignal },
  guests: GuestServer,
  dhcp: GuestDhcp,
): Promise<DaemonGuestSide> {
  if (wait.cancelled.aborted) throw interrupted('its caller hanging up');
  if (guestConfigModeOf(record) === 'host') {
    await configureFromHost(record);
    return 'configured-by-host';
  }
  if (!isDhcpGuest(record)) return wait.wait ? guests.confirm(record, wait.timeoutMs, wait.cancelled) : undefined;
  await dhcp.serve();
  if (!wait.wait) return 'dhcp-served';
  return dhcp.waitForLease(record, wait.timeoutMs, wait.cancelled, () => interrupted('its caller hanging up'));
}

/** What `status` shows of each guest from the daemon: its agent's session, and a dhcp guest's lease. */
export const guestViewOf =
  (guests: GuestServer, dhcp: GuestDhcp): AgentView =>
  (record) => ({ connected: guests.connected(record.id), lastApply: guests.lastApply(record.id), dhcp: dhcp.leaseOf(record) });
