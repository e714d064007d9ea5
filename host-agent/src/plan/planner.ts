import { NameTakenError, UsageError } from '@guestnet/protocol';
import { defaultRouteInterface, type HostObserved, ipv6Uplink, pathMtu } from '../model/host.js';
import { hasPolicy, policyDefaultInterface, uplinkTable } from '../model/policy.js';
import { type PortForward, sameForwards, sameHostPort } from '../model/port-forward.js';
import { describeType } from '../model/link-type.js';
import { type AttachmentRecord, guestLabel, HOST_LINK_GROUP, hostLinkAlias, isRouted, type RoutedVethRecord } from '../model/record.js';
import { firewallHolds, firewallOf, NO_FIREWALL, observedFirewall, policyRouteOf, ruleOf } from '../model/rules.js';
import type { SetupOp, TeardownOp } from './ops.js';
import { forwardingBefore, ndProxySetup, ndProxyTeardown } from './ipv6.js';
import { uplinkProblem } from './uplink.js';

// The routed veth's plans (drivers/routed-veth.ts), and the plans that span
// every routed guest: pure functions from what the host looks like
// (HostObserved) and what is wanted to the ops between them. Nothing here
// reads or runs anything.

// Routed guests have rules of ours, bridged ones their ports let through (firewallOf); the
// other types join networks that exist already.
const routed = (records: readonly AttachmentRecord[]) => records.filter(isRouted);
/** The routed guests other than `id`. */
const otherRouted = (observed: HostObserved, id: string) => routed(othersThan(observed, id));
const othersThan = (observed: HostObserved, id: string) => observed.records.filter((r) => r.id !== id);
/** Whether the link named like the record's host link is the one guestnet made for it (records of older versions: by name). */
const ownsLink = (observed: HostObserved, record: RoutedVethRecord) =>
  !record.tagged || observed.aliases.get(record.hostIf) === hostLinkAlias(record);

/** The uplink the host's own traffic uses: main's default route, or on a netd-style host netd's default network. */
export function currentUplink(observed: HostObserved): string | undefined {
  return defaultRouteInterface(observed.routes) ?? policyDefaultInterface(observed.policy);
}

const SETTLED_FIELDS = [
  'hostIf',
  'guestIf',
  'guestName',
  'guestConfig',
  'hostAddress',
  'guestAddress',
  'prefixLength',
  'mtu',
  'uplink',
  'guestToGuest',
] as const;

function differences(a: RoutedVethRecord, b: RoutedVethRecord): string[] {
  return SETTLED_FIELDS.filter((key) => a[key] !== b[key]).map((key) => `${key} ${a[key]} -> ${b[key]}`);
}

function refuseClashes(observed: HostObserved, desired: RoutedVethRecord, existing: RoutedVethRecord | undefined): void {
  if (existing) {
    const changed = differences(existing, desired);
    if (changed.length > 0)
      throw new UsageError(`${guestLabel(desired)} is already attached differently (${changed.join(', ')}); detach it first`);
  }
  for (const other of otherRouted(observed, desired.id)) {
    if (other.hostIf === desired.hostIf)
      throw new NameTakenError(`${desired.hostIf} already belongs to the guest of ${guestLabel(other)}; choose another --host-if`);
    if (other.guestAddress === desired.guestAddress)
      throw new NameTakenError(`${desired.guestAddress} is already the address of the guest of ${guestLabel(other)}`);
    const port = desired.forwards.find((f) => other.forwards.some((g) => sameHostPort(f, g)));
    if (port) throw new NameTakenError(`${port.protocol} port ${port.hostPort} is already forwarded to the guest of ${guestLabel(other)}`);
  }
  const foreign = existing ? !ownsLink(observed, existing) : true;
  if (foreign && observed.links.has(desired.hostIf)) {
    throw new NameTakenError(`a link named ${desired.hostIf} already exists and guestnet did not create it; choose another --host-if`);
  }
}

/** IPv6 forwarding on, where IPv6 guests need it and it is off. */
function enableIpv6Forwarding(observed: HostObserved): SetupOp | undefined {
  const host = observed.ipv6;
  if (!host || host.forwarding === '1') return undefined;
  return { kind: 'enableIpv6Forwarding', before: host.before ?? forwardingBefore(host, observed.records) };
}

/** The ops that take the host from `observed` to having the routed guest `desired` attached. Empty when it already is. */
export function planAttachRouted(observed: HostObserved, desired: RoutedVethRecord, existing: RoutedVethRecord | undefined): SetupOp[] {
  refuseClashes(observed, desired, existing);

  const ops: SetupOp[] = [];
  // The record goes first so that whatever happens next, detach can find it.
  if (!existing) ops.push({ kind: 'writeRecord', record: desired });
  // A re-attach that names other forwards: the record says so first, and the old forwards' rules go below.
  const reforwarded = existing !== undefined && !sameForwards(existing.forwards, desired.forwards);
  if (reforwarded) ops.push({ kind: 'updateRecords', before: [existing], after: [{ ...existing, forwards: desired.forwards }] });
  if (!observed.links.has(desired.hostIf)) ops.push({ kind: 'createVeth', record: desired });
  // An attach that died between making the pair and bringing its host end up left it down, ours by its tag.
  else if (observed.down?.has(desired.hostIf)) ops.push({ kind: 'setUpHostEnd', record: desired });
  if (observed.ipForward !== '1') ops.push({ kind: 'enableIpForward', before: observed.ipForwardBefore ?? observed.ipForward });
  const enable6 = desired.ipv6 ? enableIpv6Forwarding(observed) : undefined;
  if (enable6) ops.push(enable6);
  ops.push(...ndProxySetup(observed.ipv6, [desired]));
  const rule = ruleOf(desired);
  const { firewall } = observed;
  if (reforwarded || !firewall.installed || !firewall.has(rule)) {
    const others = othersThan(observed, desired.id);
    const was = reforwarded ? [existing] : [];
    ops.push({ kind: 'setGuestRules', before: observedFirewall(firewall, [...others, ...was]), after: firewallOf([...others, desired]) });
  }
  const route = policyRouteOf(desired);
  if (route && !hasPolicy(observed.policy, route)) ops.push({ kind: 'addPolicyRoute', route });
  return ops;
}

/**
 * The ops that remove everything the routed guest `record` describes. Pieces
 * already gone are skipped; shared ones stay while others need them.
 */
export const planDetachRouted = (observed: HostObserved, record: RoutedVethRecord): TeardownOp[] =>
  planDetachRoutedGroup(observed, [record]);

/**
 * The ops that remove the routed guests `leaving` together (detaches that
 * arrived together): the firewall changes once, their links go in one
 * process, and what the host needs for the guests that stay, stays.
 */
export function planDetachRoutedGroup(observed: HostObserved, leaving: readonly RoutedVethRecord[]): TeardownOp[] {
  const ops: TeardownOp[] = [];
  const ids = new Set(leaving.map((r) => r.id));
  const remaining = observed.records.filter((r) => !ids.has(r.id));
  const others = routed(remaining);
  // A firewall that is there only in pieces (an older version's, or partly flushed) is made whole for the others, or removed.
  const { firewall } = observed;
  // With what was found of it: iptables' last removal takes what guestnet made and marked (firewall/iptables-made.ts).
  if (firewall.installed || firewall.found)
    ops.push({ kind: 'setGuestRules', before: observedFirewall(firewall, [...remaining, ...leaving]), after: firewallOf(remaining) });
  // The link's routes go with it; an ip rule naming it would stay behind. Removal tolerates it being gone.
  for (const route of leaving.flatMap((r) => policyRouteOf(r) ?? [])) ops.push({ kind: 'removePolicyRoute', route });
  // A host link that took the name after the guest's went is not ours: only a link tagged for this
  // record is deleted, and never the uplink, whatever a damaged or hand-edited record says.
  const uplink = currentUplink(observed);
  const links = leaving
    .filter((r) => observed.links.has(r.hostIf) && ownsLink(observed, r) && r.hostIf !== r.uplink && r.hostIf !== uplink)
    .map((r) => r.hostIf);
  const [only] = links;
  if (links.length === 1 && only !== undefined) ops.push({ kind: 'deleteLink', name: only });
  else if (links.length > 1) ops.push({ kind: 'deleteLinks', names: links });
  if (others.length === 0 && observed.ipForwardBefore !== undefined)
    ops.push({ kind: 'restoreIpForward', value: observed.ipForwardBefore });
  ops.push(...ndProxyTeardown(observed.ipv6, leaving, others));
  const before6 = observed.ipv6?.before;
  if (!others.some((r) => r.ipv6) && before6 !== undefined) ops.push({ kind: 'restoreIpv6Forwarding', value: before6 });
  for (const r of leaving) if (observed.records.some((o) => o.id === r.id)) ops.push({ kind: 'deleteRecord', id: r.id });
  return ops;
}

/**
 * The ops that remove every routed guest at once: the whole firewall in one
 * change, every link of ours in one kernel transaction (or one batch), then
 * ip_forward, and the records of every guest but phys ones (`records`).
 */
export function planDetachAllRouted(observed: HostObserved, records: readonly AttachmentRecord[]): TeardownOp[] {
  const ops: TeardownOp[] = [];
  const routedRecords = routed(records);
  const { firewall } = observed;
  if (firewall.installed || firewall.found)
    ops.push({
      kind: 'setGuestRules',
      before: observedFirewall(firewall, records),
      after: NO_FIREWALL,
    });
  for (const route of routedRecords.flatMap((r) => policyRouteOf(r) ?? [])) ops.push({ kind: 'removePolicyRoute', route });
  const uplink = currentUplink(observed);
  const owned = routedRecords
    .filter((r) => observed.links.has(r.hostIf) && ownsLink(observed, r) && r.hostIf !== r.uplink && r.hostIf !== uplink)
    .map((r) => r.hostIf);
  // The group goes whole only when every link in it is one of ours: another state dir's guests share the number.
  const grouped = [...observed.groups].filter(([, group]) => group === HOST_LINK_GROUP).map(([name]) => name);
  const whole = grouped.length > 0 && grouped.every((name) => owned.includes(name));
  if (whole) ops.push({ kind: 'deleteLinks', names: grouped, group: HOST_LINK_GROUP });
  const rest = whole ? owned.filter((name) => !grouped.includes(name)) : owned;
  if (rest.length > 0) ops.push({ kind: 'deleteLinks', names: rest });
  if (observed.ipForwardBefore !== undefined) ops.push({ kind: 'restoreIpForward', value: observed.ipForwardBefore });
  ops.push(...ndProxyTeardown(observed.ipv6, routedRecords, []));
  if (observed.ipv6?.before !== undefined) ops.push({ kind: 'restoreIpv6Forwarding', value: observed.ipv6.before });
  for (const r of records) ops.push({ kind: 'deleteRecord', id: r.id });
  return ops;
}

/** The ops that add (or, with `remove`, take away) one port forward of an attached guest. */
export function planForward(observed: HostObserved, record: AttachmentRecord, forward: PortForward, remove: boolean): SetupOp[] {
  if (!isRouted(record))
    throw new UsageError(
      `${guestLabel(record)} is attached as ${describeType(record)}: port forwards are for routed guests (--type veth without --link)`,
    );
  const kept = record.forwards.filter((f) => !sameHostPort(f, forward));
  if (!remove) {
    const holder = otherRouted(observed, record.id).find((r) => r.forwards.some((f) => sameHostPort(f, forward)));
    if (holder)
      throw new NameTakenError(`${forward.protocol} port ${forward.hostPort} is already forwarded to the guest of ${guestLabel(holder)}`);
  }
  const forwards = remove ? kept : [...kept, forward];
  const after = { ...record, forwards };
  const unchanged =
    forwards.length === record.forwards.length &&
    forwards.every((f) => record.forwards.some((g) => sameHostPort(f, g) && f.guestPort === g.guestPort));
  if (unchanged && observed.firewall.has(ruleOf(after))) return [];
  const others = othersThan(observed, record.id);
  const before = observedFirewall(observed.firewall, [...others, record]);
  return [
    { kind: 'updateRecords', before: [record], after: [after] },
    { kind: 'setGuestRules', before, after: firewallOf([...others, after]) },
  ];
}

/**
 * The daemon's reconcile loop: ip_forward turned off and rules the host
 * flushed (a firewall reload) are put back, guests whose uplink is not
 * pinned follow the default route, and guests whose MTU is not pinned follow
 * their uplink's path MTU, all in place: nobody is re-attached.
 */
export function planReconcile(observed: HostObserved): SetupOp[] {
  const { firewall } = observed;
  const records = routed(observed.records);
  const ops: SetupOp[] = [];
  // Someone turned forwarding off behind our back: every guest is offline until it is back.
  if (records.length > 0 && observed.ipForward !== '1')
    ops.push({ kind: 'enableIpForward', before: observed.ipForwardBefore ?? observed.ipForward });
  const enable6 = records.some((r) => r.ipv6) ? enableIpv6Forwarding(observed) : undefined;
  if (enable6) ops.push(enable6);
  ops.push(...ndProxySetup(observed.ipv6, records));
  // Bridged guests' ports too: a firewall reload takes them with the routed guests' rules.
  const all = firewallOf(observed.records);
  const present = observed.records.filter((r) => firewallHolds(firewall, r));
  if (present.length < observed.records.length) {
    ops.push({ kind: 'setGuestRules', before: observedFirewall(firewall, present), after: all });
  }

  const uplink = currentUplink(observed);
  const follow = uplink !== undefined && observed.links.has(uplink) && uplinkProblem(uplink, records) === undefined;
  const table = uplink === undefined ? undefined : uplinkTable(observed.policy, uplink);
  // IPv6 leaves by the IPv6 default route, which beside a CLAT is not IPv4's.
  const uplink6 = observed.ipv6 ? ipv6Uplink(observed.ipv6) : undefined;
  const follow6 = uplink6 !== undefined && observed.links.has(uplink6);
  const wanted = records.map((r) => {
    const moves = follow && !r.uplinkPinned && r.uplink !== uplink;
    const moved4 = moves ? { ...r, uplink, ...(r.policyTable !== undefined && table !== undefined ? { policyTable: table } : {}) } : r;
    // A routed prefix belongs to the link it is routed on: only NAT follows the IPv6 default route.
    const moved =
      follow6 && moved4.ipv6?.mode === 'nat' && moved4.ipv6.uplink !== uplink6
        ? { ...moved4, ipv6: { ...moved4.ipv6, uplink: uplink6 } }
        : moved4;
    const mtu = moved.mtuPinned ? undefined : pathMtu(observed, moved.uplink);
    return mtu === undefined || mtu === moved.mtu ? moved : { ...moved, mtu };
  });
  const changed = wanted.filter((w, i) => w !== records[i]);
  const before = records.filter((r) => changed.some((c) => c.id === r.id));
  const moved = changed.filter((c, i) => c.uplink !== before[i]?.uplink || c.ipv6?.uplink !== before[i]?.ipv6?.uplink);
  for (const r of records.filter((r) => !moved.some((m) => m.id === r.id))) {
    const route = policyRouteOf(r);
    if (route && !hasPolicy(observed.policy, route)) ops.push({ kind: 'addPolicyRoute', route });
  }
  if (changed.length > 0) ops.push({ kind: 'updateRecords', before, after: changed });
  if (moved.length > 0) {
    const after = observed.records.map((r) => wanted.find((w) => w.id === r.id) ?? r);
    ops.push({ kind: 'setGuestRules', before: all, after: firewallOf(after) });
    for (const route of moved.flatMap((r) => policyRouteOf(r) ?? [])) ops.push({ kind: 'addPolicyRoute', route });
  }
  changed.forEach((c, i) => {
    const was = before[i]?.mtu;
    if (was !== undefined && was !== c.mtu) ops.push({ kind: 'setLinkMtu', record: c, mtu: c.mtu, before: was });
  });
  return ops;
}
