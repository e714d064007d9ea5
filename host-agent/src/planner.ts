import { NameTakenError, networkOf, UsageError } from '@guestnet/protocol';
import type { FirewallState, GuestRule } from './firewall/firewall.js';
import { type Forward, sameHostPort } from './forward.js';
import { hasPolicy, policyDefaultInterface, type PolicyRoute, type PolicyState, uplinkTable } from './net/policy.js';
import type { SetupOp, TeardownOp } from './ops.js';
import { type AttachmentRecord, guestLabel } from './state.js';

/** What the host looks like right now, as far as attach and detach care. */
export interface Route {
  /** "default" or address[/prefix]. */
  dst: string;
  dev: string;
  metric?: number;
}

export interface HostObserved {
  links: ReadonlySet<string>;
  /** The main table's IPv4 routes. */
  routes: readonly Route[];
  ipForward: string;
  /** Saved by the attach that turned ip_forward on. */
  ipForwardBefore: string | undefined;
  records: readonly AttachmentRecord[];
  firewall: FirewallState;
  policy: PolicyState;
}

export function ruleOf(record: AttachmentRecord): GuestRule {
  const { hostIf, hostIfPrefix, guestAddress, prefixLength } = record;
  return {
    hostIf,
    // Only a name made from a prefix joins its family: a chosen --host-if such as eth5 must never become eth+.
    linkFamily: hostIfPrefix !== undefined && hostIf.startsWith(hostIfPrefix) ? `${hostIfPrefix}+` : hostIf,
    pool: `${networkOf(guestAddress, prefixLength)}/${prefixLength}`,
    guestAddress,
    uplink: record.uplink,
    openToGuests: record.guestToGuest,
    forwards: record.forwards,
  };
}

const othersThan = (observed: HostObserved, id: string) => observed.records.filter((r) => r.id !== id).map(ruleOf);

/** The ip rule and table-97 route a guest needs on a netd-style host; undefined elsewhere. */
export function policyRouteOf(record: AttachmentRecord): PolicyRoute | undefined {
  const { policyTable: table, hostIf, guestAddress, hostAddress: gateway } = record;
  return table === undefined ? undefined : { hostIf, guestAddress, gateway, table };
}

/** The uplink the host's own traffic uses: main's default route, or on a netd-style host netd's default network. */
export function currentUplink(observed: HostObserved): string | undefined {
  return defaultRouteInterface(observed.routes) ?? policyDefaultInterface(observed.policy);
}

/** The ops that add (or, with `remove`, take away) one port forward of an attached guest. */
export function planForward(observed: HostObserved, record: AttachmentRecord, forward: Forward, remove: boolean): SetupOp[] {
  const others = record.forwards.filter((f) => !sameHostPort(f, forward));
  if (!remove) {
    const holder = observed.records.find((r) => r.id !== record.id && r.forwards.some((f) => sameHostPort(f, forward)));
    if (holder) throw new NameTakenError(`${forward.protocol} port ${forward.hostPort} is already forwarded to the guest of ${guestLabel(holder)}`);
  }
  const forwards = remove ? others : [...others, forward];
  const after = { ...record, forwards };
  const unchanged = forwards.length === record.forwards.length && forwards.every((f) => record.forwards.some((g) => sameHostPort(f, g) && f.guestPort === g.guestPort));
  if (unchanged && observed.firewall.has(ruleOf(after))) return [];
  return [{ kind: 'setForwards', record: after, before: record.forwards, others: othersThan(observed, record.id) }];
}

const SETTLED_FIELDS = ['hostIf', 'guestIf', 'guestName', 'hostAddress', 'guestAddress', 'prefixLength', 'mtu', 'uplink', 'guestToGuest'] as const;

/** The interface of the IPv4 default route with the lowest metric. */
export function defaultRouteInterface(routes: readonly Route[]): string | undefined {
  return routes.filter((r) => r.dst === 'default').sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0]?.dev;
}

function differences(a: AttachmentRecord, b: AttachmentRecord): string[] {
  return SETTLED_FIELDS.filter((key) => a[key] !== b[key]).map((key) => `${key} ${a[key]} -> ${b[key]}`);
}

/** The ops that take the host from `observed` to having `desired` attached. Empty when it already is. */
export function planAttach(observed: HostObserved, desired: AttachmentRecord): SetupOp[] {
  const existing = observed.records.find((r) => r.id === desired.id);
  if (existing) {
    const changed = differences(existing, desired);
    if (changed.length > 0) {
      throw new UsageError(`${guestLabel(desired)} is already attached differently (${changed.join(', ')}); detach it first`);
    }
  }
  for (const other of observed.records.filter((r) => r.id !== desired.id)) {
    if (other.hostIf === desired.hostIf) {
      throw new NameTakenError(`${desired.hostIf} already belongs to the guest of ${guestLabel(other)}; choose another --host-if`);
    }
    if (other.guestAddress === desired.guestAddress) {
      throw new NameTakenError(`${desired.guestAddress} is already the address of the guest of ${guestLabel(other)}`);
    }
  }
  if (!existing && observed.links.has(desired.hostIf)) {
    throw new NameTakenError(`a link named ${desired.hostIf} already exists and guestnet did not create it; choose another --host-if`);
  }

  const ops: SetupOp[] = [];
  // The record goes first so that whatever happens next, detach can find it.
  if (!existing) ops.push({ kind: 'writeRecord', record: desired });
  if (!observed.links.has(desired.hostIf)) ops.push({ kind: 'createVeth', record: desired });
  if (observed.ipForward !== '1') {
    ops.push({ kind: 'enableIpForward', before: observed.ipForwardBefore ?? observed.ipForward });
  }
  const rule = ruleOf(desired);
  const { firewall } = observed;
  if (!firewall.installed || !firewall.has(rule)) ops.push({ kind: 'addGuestRules', rule, others: othersThan(observed, desired.id), createBase: !firewall.installed });
  const route = policyRouteOf(desired);
  if (route && !hasPolicy(observed.policy, route)) ops.push({ kind: 'addPolicyRoute', route });
  return ops;
}

/** The ops that remove everything `record` describes. Pieces already gone are skipped. */
export function planDetach(observed: HostObserved, record: AttachmentRecord): TeardownOp[] {
  const ops: TeardownOp[] = [];
  const rule = ruleOf(record);
  const { firewall } = observed;
  if (firewall.installed) ops.push({ kind: 'removeGuestRules', rule, remaining: othersThan(observed, record.id) });
  // The link's routes go with it; an ip rule naming it would stay behind. Removal tolerates it being gone.
  const route = policyRouteOf(record);
  if (route) ops.push({ kind: 'removePolicyRoute', route });
  if (observed.links.has(record.hostIf)) ops.push({ kind: 'deleteLink', name: record.hostIf });
  const lastGuest = observed.records.every((r) => r.id === record.id);
  if (lastGuest && observed.ipForwardBefore !== undefined) {
    ops.push({ kind: 'restoreIpForward', value: observed.ipForwardBefore });
  }
  if (observed.records.some((r) => r.id === record.id)) ops.push({ kind: 'deleteRecord', id: record.id });
  return ops;
}

/**
 * The daemon's reconcile loop: rules the host flushed (a firewall reload) are
 * put back, and guests whose uplink is not pinned follow the default route,
 * all in place: nobody is re-attached.
 */
export function planReconcile(observed: HostObserved): SetupOp[] {
  const { firewall, records } = observed;
  const ops: SetupOp[] = [];
  const missing = records.filter((r) => !firewall.installed || !firewall.has(ruleOf(r)));
  const [first] = missing;
  if (first && !firewall.installed) ops.push({ kind: 'addGuestRules', rule: ruleOf(first), others: othersThan(observed, first.id), createBase: true });
  else for (const r of missing) ops.push({ kind: 'addGuestRules', rule: ruleOf(r), others: othersThan(observed, r.id), createBase: false });

  const uplink = currentUplink(observed);
  const moving = uplink !== undefined && observed.links.has(uplink) ? records.filter((r) => !r.uplinkPinned && r.uplink !== uplink) : [];
  const stay = records.filter((r) => !moving.includes(r));
  for (const r of stay) {
    const route = policyRouteOf(r);
    if (route && !hasPolicy(observed.policy, route)) ops.push({ kind: 'addPolicyRoute', route });
  }
  if (uplink !== undefined && moving.length > 0) {
    const table = uplinkTable(observed.policy, uplink);
    const after = moving.map((r) => ({ ...r, uplink, ...(r.policyTable !== undefined && table !== undefined ? { policyTable: table } : {}) }));
    ops.push({ kind: 'switchUplink', before: moving, after, unchanged: stay.map(ruleOf) });
    for (const route of after.flatMap((r) => policyRouteOf(r) ?? [])) ops.push({ kind: 'addPolicyRoute', route });
  }
  return ops;
}
