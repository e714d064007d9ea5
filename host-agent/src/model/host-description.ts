import { describeType } from './link-type.js';
import type { ShownRecord } from './record.js';

// The host side of an attachment in words, for an attach's report. A model
// of its own, not the drivers': a client the daemon served prints it, and
// must not load the planners to do so.

/**
 * How an attach's report names the host side of a guest that joins a network: no NAT, no rules of ours,
 * but a lock on a bridged guest's port, and with iptables the port let through `letThrough`'s chains.
 */
function joinedHost(record: ShownRecord, extra = '', locked = false, letThrough?: string): string {
  const through = letThrough === undefined ? [] : [`the port let through guestnet's ${letThrough} chains`];
  const rules = locked
    ? ['no NAT', 'the port is locked to the guest']
    : through.length > 0
      ? ['no NAT']
      : ["no NAT and no rules of guestnet's"];
  return `${describeType(record)}${extra}; ${[...rules, ...through].join('; ')}`;
}

/** The host side of `record` in words; `firewall`: the backend its rules are in. */
export function describeHost(record: ShownRecord, firewall: string): string {
  if (record.type === 'routed-veth')
    return `${record.hostIf} ${record.hostAddress} peer ${record.guestAddress}, uplink ${record.uplink}, firewall ${firewall}`;
  if (record.type === 'bridged-veth')
    return joinedHost(record, `, port ${record.hostIf}`, record.portSecurity === true, firewall === 'nftables' ? undefined : firewall);
  return joinedHost(record);
}
