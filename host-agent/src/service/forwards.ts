import { firewallNamed } from '../firewall/select.js';
import type { PortForward } from '../model/port-forward.js';
import { type AttachmentRecord, isRouted, type RoutedVethRecord } from '../model/record.js';
import { type FirewallState, ruleOf } from '../model/rules.js';
import type { Reader } from '../model/step.js';

/** A published port, and whether its rules are in the firewall now (a firewall reload may have flushed them). */
export type ForwardStatus = PortForward & { inForce: boolean };

/** Whether the firewall holds what `forward` needs: the guest's own rules and the forward's. */
export function forwardInForce(firewall: FirewallState, record: RoutedVethRecord, forward: PortForward): boolean {
  return firewall.installed && firewall.has({ ...ruleOf(record), forwards: [forward] });
}

/**
 * Each record's forwards with whether they are in force. The firewall is
 * read only when some guest has forwards: a status without any runs nothing more.
 */
export async function forwardsInForce(
  records: readonly AttachmentRecord[],
  reader: Reader,
): Promise<(record: AttachmentRecord) => ForwardStatus[]> {
  const forwarding = records.find((r) => isRouted(r) && r.forwards.length > 0);
  if (!forwarding) return () => [];
  const firewall = await firewallNamed(forwarding.firewall).observe(
    reader,
    true,
    records.some((r) => isRouted(r) && r.ipv6 !== undefined),
  );
  return (record) => (isRouted(record) ? record.forwards.map((f) => ({ ...f, inForce: forwardInForce(firewall, record, f) })) : []);
}
