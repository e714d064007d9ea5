import { type HostObserved, ipv6Uplink } from '../model/host.js';
import { guestIpv6Of } from '../model/ipv6.js';
import { type AttachmentRecord, hostEndOf, isRouted, type RoutedVethRecord } from '../model/record.js';
import { firewallOf } from '../model/rules.js';
import { forwardingBefore } from './ipv6.js';
import type { SetupOp } from './ops.js';
import { uplinkProblem } from './uplink.js';

// `--ipv6 auto` guests have IPv6 while the host has IPv6 to share, and only
// then. A phone's uplink takes its SLAAC address a moment after its IPv4, and
// again after each roam: guests attached in between gain IPv6 when the host
// does, and lose it when the host does, without a re-attach. The daemon's
// reconcile loop plans this after its other repairs, from a fresh look.

/** Whether an IPv6 address event on `name` may change what `--ipv6 auto` guests should have: not on their own links, whose addresses are ours. */
export function mayMoveIpv6(records: readonly AttachmentRecord[], name: string): boolean {
  return records.some((r) => isRouted(r) && r.ipv6Auto) && !records.some((r) => hostEndOf(r) === name);
}

/** The interface guests' IPv6 leaves by where the host has IPv6 to share (as chooseIpv6 decides for auto), or undefined. */
export function sharedIpv6Uplink(observed: HostObserved): string | undefined {
  const host = observed.ipv6;
  if (host?.forwarding === undefined) return undefined;
  const uplink = ipv6Uplink(host);
  const usable = uplink !== undefined && host.global.has(uplink) && observed.links.has(uplink);
  return usable && uplinkProblem(uplink, observed.records) === undefined ? uplink : undefined;
}

/** `record` as `--ipv6 auto` wants it with the host's IPv6 uplink `uplink` (undefined: none). */
function following(record: RoutedVethRecord, uplink: string | undefined): RoutedVethRecord {
  if (!record.ipv6Auto) return record;
  if (uplink !== undefined && !record.ipv6)
    return { ...record, ipv6: guestIpv6Of(record.ipv6Auto.pool6, record.guestAddress, 'nat', uplink) };
  if (uplink !== undefined || !record.ipv6) return record;
  const { ipv6: _, ...withoutIpv6 } = record;
  return withoutIpv6;
}

/**
 * The ops that give `--ipv6 auto` guests IPv6 where the host has gained some
 * to share, and take it from them where the host has lost it. Gaining: the
 * records first, forwarding, the host ends, the rules. Losing mirrors it:
 * the rules, the host ends, the records, and forwarding back off once no
 * guest has IPv6. Each op has its inverse, so a failure undoes the pass.
 */
export function planIpv6Follow(observed: HostObserved): SetupOp[] {
  const host = observed.ipv6;
  // IPv6 was not looked at: nothing to decide from.
  if (!host) return [];
  const uplink = sharedIpv6Uplink(observed);
  const records = observed.records.filter(isRouted);
  const wanted = records.map((r) => following(r, uplink));
  const gained = wanted.filter((r, i) => r.ipv6 && !records[i]?.ipv6);
  const lost = records.filter((r, i) => r.ipv6 && !wanted[i]?.ipv6);
  // A pass cut short after its records: the host end of a guest that kept IPv6 lacks its gateway (a global address).
  const unwired = records.filter(
    (r, i) => r.ipv6Auto && r.ipv6 && wanted[i]?.ipv6 && observed.links.has(r.hostIf) && !host.global.has(r.hostIf),
  );
  const rewired = unwired.flatMap((r): SetupOp[] => (r.ipv6 ? [{ kind: 'addGuestIpv6', record: r, ipv6: r.ipv6 }] : []));
  if (gained.length === 0 && lost.length === 0) return rewired;
  const before = (changed: RoutedVethRecord[]) => changed.map((c) => records.find((r) => r.id === c.id) as RoutedVethRecord);
  const after = (changed: RoutedVethRecord[]) => changed.map((c) => wanted.find((r) => r.id === c.id) as RoutedVethRecord);
  const ops: SetupOp[] = [];
  if (gained.length > 0) {
    ops.push({ kind: 'updateRecords', before: before(gained), after: gained });
    if (host.forwarding !== '1')
      ops.push({ kind: 'enableIpv6Forwarding', before: host.before ?? forwardingBefore(host, observed.records) });
    for (const r of gained) if (r.ipv6) ops.push({ kind: 'addGuestIpv6', record: r, ipv6: r.ipv6 });
  }
  ops.push(...rewired);
  // With the pieces found: IPv6's chains come or go here, and with them what iptables-nft made (firewall/iptables-made.ts).
  const { found } = observed.firewall;
  ops.push({
    kind: 'setGuestRules',
    before: { ...firewallOf(observed.records), ...(found ? { found } : {}) },
    after: firewallOf(observed.records.map((r) => wanted.find((w) => w.id === r.id) ?? r)),
  });
  if (lost.length > 0) {
    for (const r of lost) if (r.ipv6) ops.push({ kind: 'removeGuestIpv6', record: r, ipv6: r.ipv6 });
    ops.push({ kind: 'updateRecords', before: lost, after: after(lost) });
    // Only a routed veth carries IPv6: the others' records have no such field.
    const stillIpv6 = wanted.some((r) => r.ipv6);
    if (!stillIpv6 && host.before !== undefined) ops.push({ kind: 'restoreIpv6Forwarding', value: host.before });
  }
  return ops;
}
