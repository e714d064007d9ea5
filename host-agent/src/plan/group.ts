import { isRouted, type RoutedVethRecord } from '../model/record.js';
import type { SetGuestRules, SetupOp } from './ops.js';

// Group commit: the plans of new routed guests that arrived together, each
// made (planAttach) against the host plus the members planned before it,
// become one plan. Their pairs are made in as few processes as their guest
// ends' names allow (exec/veth-steps.ts), the firewall changes
// once, from what the first member saw to what the last one wants; what the
// host needs once (forwarding on) is done once. The executor undoes the
// group's plan as a whole; the service then tries each member alone.

/** The kinds of op a member's plan may hold for it to join a group. */
const GROUPABLE = new Set<SetupOp['kind']>([
  'writeRecord',
  'createVeth',
  'enableIpForward',
  'enableIpv6Forwarding',
  'enableProxyNdp',
  'addNdProxy',
  'setGuestRules',
  'addPolicyRoute',
]);

/** Whether a member's plan can be merged with others: a new routed guest's, whose pair it makes, with nothing but the usual setup. */
export const joinsGroup = (plan: readonly SetupOp[]): boolean =>
  plan.some((op) => op.kind === 'writeRecord') && plan.some((op) => op.kind === 'createVeth') && plan.every((op) => GROUPABLE.has(op.kind));

/** The one plan of a group: records, then links, then what is host-wide, then the firewall and policy routes. */
export function mergeAttachPlans(plans: readonly SetupOp[][]): SetupOp[] {
  const all = plans.flat();
  const ofKind = <K extends SetupOp['kind']>(kind: K) => all.filter((op): op is Extract<SetupOp, { kind: K }> => op.kind === kind);
  const veths = ofKind('createVeth').map((op) => op.record);
  const together = veths.filter((r): r is RoutedVethRecord => isRouted(r));
  const firstOnly = (kind: 'enableIpForward' | 'enableIpv6Forwarding') => ofKind(kind).slice(0, 1);
  const uplinks = new Set<string>();
  const proxyNdp = ofKind('enableProxyNdp').filter((op) => !uplinks.has(op.uplink) && uplinks.add(op.uplink));
  const addresses = new Set<string>();
  const ndProxies = ofKind('addNdProxy').filter((op) => !addresses.has(op.address) && addresses.add(op.address));
  const rules = ofKind('setGuestRules');
  return [
    ...ofKind('writeRecord'),
    ...(together.length > 0 ? [{ kind: 'createVeths' as const, records: together }] : []),
    ...veths.filter((r) => !together.includes(r as RoutedVethRecord)).map((record) => ({ kind: 'createVeth' as const, record })),
    ...firstOnly('enableIpForward'),
    ...firstOnly('enableIpv6Forwarding'),
    ...proxyNdp,
    ...ndProxies,
    ...mergedRules(rules),
    ...ofKind('addPolicyRoute'),
  ];
}

/**
 * Each member's change starts where the one before it ends: together, from the first's start to the last's end.
 * The pieces each member found are all of the host's (nothing changed between their looks): a later member may
 * have looked at more of it (the first with IPv6 at IPv6's chains, routed-veth.ts).
 */
function mergedRules(rules: SetGuestRules[]): SetGuestRules[] {
  const [first] = rules;
  const last = rules.at(-1);
  if (!first || !last) return [];
  const found: Record<string, number> = Object.assign({}, ...rules.map((r) => r.before.found ?? {}));
  const before = Object.keys(found).length > 0 ? { ...first.before, found } : first.before;
  return [{ kind: 'setGuestRules', before, after: last.after }];
}
