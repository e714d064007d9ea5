import type { Step } from './exec/runner.js';
import type { Firewall, GuestRule } from './firewall/firewall.js';
import { describeForward, type Forward } from './forward.js';
import { GUEST_RULE_PRIORITY, LOCAL_NETWORK_TABLE, type PolicyRoute } from './net/policy.js';
import { ruleOf } from './planner.js';
import { type AttachmentRecord, guestLabel, recordPath, statePaths } from './state.js';

export const IP_FORWARD_PATH = '/proc/sys/net/ipv4/ip_forward';

/** Changes attach makes. Each has an inverse in `undoOf`. */
export type SetupOp =
  | { kind: 'writeRecord'; record: AttachmentRecord }
  | { kind: 'createVeth'; record: AttachmentRecord }
  | { kind: 'enableIpForward'; before: string }
  /** `others`: the other attached guests, which a backend may need to rewrite or restore beside it. */
  | { kind: 'addGuestRules'; rule: GuestRule; others: GuestRule[]; createBase: boolean }
  /** Rewrites the record with its new forwards, and swaps `before` for them in the firewall. */
  | { kind: 'setForwards'; record: AttachmentRecord; before: Forward[]; others: GuestRule[] }
  /** On a netd-style host: the guest's ip rule to its uplink's table, and its route in table 97. */
  | { kind: 'addPolicyRoute'; route: PolicyRoute }
  /** Re-points guests at a new uplink: their records and rules, in one firewall change. */
  | { kind: 'switchUplink'; before: AttachmentRecord[]; after: AttachmentRecord[]; unchanged: GuestRule[] };

/** Changes detach makes. Each tolerates its target being gone already. */
export type TeardownOp =
  | { kind: 'deleteRecord'; id: string }
  | { kind: 'deleteLink'; name: string }
  | { kind: 'restoreIpForward'; value: string }
  /** With no guest `remaining`, the agent's table or chains go too. */
  | { kind: 'removeGuestRules'; rule: GuestRule; remaining: GuestRule[] }
  | { kind: 'removePolicyRoute'; route: PolicyRoute };

export type Op = SetupOp | TeardownOp;

type ByKind<U extends { kind: string }> = { [K in U['kind']]: (op: Extract<U, { kind: K }>) => Op };

// The compiler insists that every setup op can be undone.
const undo: ByKind<SetupOp> = {
  writeRecord: (op) => ({ kind: 'deleteRecord', id: op.record.id }),
  // Deleting either end of a veth deletes the pair, in whichever netns the peer is.
  createVeth: (op) => ({ kind: 'deleteLink', name: op.record.hostIf }),
  enableIpForward: (op) => ({ kind: 'restoreIpForward', value: op.before }),
  addGuestRules: (op) => ({ kind: 'removeGuestRules', rule: op.rule, remaining: op.others }),
  setForwards: (op) => ({ kind: 'setForwards', record: { ...op.record, forwards: op.before }, before: op.record.forwards, others: op.others }),
  switchUplink: (op) => ({ kind: 'switchUplink', before: op.after, after: op.before, unchanged: op.unchanged }),
  addPolicyRoute: (op) => ({ kind: 'removePolicyRoute', route: op.route }),
};

export function undoOf(op: SetupOp): Op {
  return (undo[op.kind] as (op: SetupOp) => Op)(op);
}

export function isSetup(op: Op): op is SetupOp {
  return Object.hasOwn(undo, op.kind);
}

export interface OpContext {
  firewall: Firewall;
  stateDir: string;
}

type StepsByKind = { [K in Op['kind']]: (op: Extract<Op, { kind: K }>, ctx: OpContext) => Step[] };

/** The netns the agent runs in: the host's. */
const HOST_NETNS = `/proc/${process.pid}/ns/net`;

const NO_DEVICE = /Cannot find device|does not exist/;

const deleteGuestRule = (r: PolicyRoute): Step => ({
  kind: 'run',
  argv: ['ip', 'rule', 'del', 'priority', String(GUEST_RULE_PRIORITY), 'iif', r.hostIf],
  tolerate: /No such file or directory/,
});

const steps: StepsByKind = {
  writeRecord: (op, ctx) => [
    { kind: 'write', path: recordPath(ctx.stateDir, op.record.id), content: `${JSON.stringify(op.record, null, 2)}\n` },
  ],
  deleteRecord: (op, ctx) => [{ kind: 'remove', path: recordPath(ctx.stateDir, op.id) }],

  // The pair is made from inside the guest's netns, the host end placed in
  // ours: moving a link between netns costs the kernel 15 to 30 ms, creating
  // it in place 4. The alias (the guest's proof of identity, see
  // protocol/README.md) is set in the same process, so the guest agent, woken
  // by the link's arrival, finds it tagged; and only the guest's netns ever
  // holds the token.
  createVeth: ({ record: r }) => [
    {
      kind: 'run',
      argv: ['nsenter', `--net=${r.netnsPath}`, 'ip', '-batch', '-'],
      input: [
        `link add ${r.guestIf} mtu ${r.mtu} address ${r.guestMac} type veth peer name ${r.hostIf} mtu ${r.mtu} netns ${HOST_NETNS}`,
        `link set dev ${r.guestIf} alias ${r.token}`,
        '',
      ].join('\n'),
    },
    {
      kind: 'run',
      argv: ['ip', '-batch', '-'],
      input: [`address add ${r.hostAddress}/32 peer ${r.guestAddress}/32 dev ${r.hostIf}`, `link set dev ${r.hostIf} up`, ''].join('\n'),
    },
    // Strict reverse-path filtering on the guest's link: it can only send from the address routed to it.
    { kind: 'sysctl', path: `/proc/sys/net/ipv4/conf/${r.hostIf}/rp_filter`, value: '1' },
    // Guests believe their whole subnet is on-link; only a guest open to others gets its ARP answered for them.
    ...(r.guestToGuest ? [{ kind: 'sysctl' as const, path: `/proc/sys/net/ipv4/conf/${r.hostIf}/proxy_arp`, value: '1' }] : []),
  ],
  deleteLink: (op) => [{ kind: 'run', argv: ['ip', 'link', 'del', 'dev', op.name], tolerate: NO_DEVICE }],

  enableIpForward: (op, ctx) => [
    { kind: 'write', path: statePaths(ctx.stateDir).ipForwardBefore, content: `${op.before}\n` },
    { kind: 'sysctl', path: IP_FORWARD_PATH, value: '1' },
  ],
  restoreIpForward: (op, ctx) => [
    { kind: 'sysctl', path: IP_FORWARD_PATH, value: op.value },
    { kind: 'remove', path: statePaths(ctx.stateDir).ipForwardBefore },
  ],

  addGuestRules: (op, ctx) => ctx.firewall.addGuest(op.rule, op.others, op.createBase),
  setForwards: (op, ctx) => [
    { kind: 'write', path: recordPath(ctx.stateDir, op.record.id), content: `${JSON.stringify(op.record, null, 2)}\n` },
    ...ctx.firewall.setForwards(ruleOf(op.record), op.before, op.others),
  ],
  removeGuestRules: (op, ctx) => ctx.firewall.removeGuest(op.rule, op.remaining),
  // Whatever rule the link had (another uplink's table, say) goes first: ip rules may be duplicated.
  addPolicyRoute: ({ route: r }) => [
    deleteGuestRule(r),
    { kind: 'run', argv: ['ip', '-batch', '-'], input: `rule add priority ${GUEST_RULE_PRIORITY} iif ${r.hostIf} lookup ${r.table}\nroute replace ${r.guestAddress}/32 dev ${r.hostIf} src ${r.gateway} table ${LOCAL_NETWORK_TABLE}\n` },
  ],
  removePolicyRoute: ({ route: r }) => [
    deleteGuestRule(r),
    { kind: 'run', argv: ['ip', 'route', 'del', `${r.guestAddress}/32`, 'dev', r.hostIf, 'table', String(LOCAL_NETWORK_TABLE)], tolerate: /No such process|Cannot find device|No such file/ },
  ],
  switchUplink: (op, ctx) => [
    ...op.after.map((record): Step => ({ kind: 'write', path: recordPath(ctx.stateDir, record.id), content: `${JSON.stringify(record, null, 2)}\n` })),
    ...ctx.firewall.replaceGuests(op.before.map(ruleOf), op.after.map(ruleOf), op.unchanged),
  ],
};

export function stepsOf(op: Op, ctx: OpContext): Step[] {
  return (steps[op.kind] as (op: Op, ctx: OpContext) => Step[])(op, ctx);
}

/** One line per op for humans: what it means, not how. */
export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'writeRecord':
      return `remember attachment of ${guestLabel(op.record)}`;
    case 'deleteRecord':
      return `forget attachment ${op.id}`;
    case 'createVeth':
      return `create ${op.record.hostIf} (${op.record.hostAddress} peer ${op.record.guestAddress}) with ${op.record.guestIf} in the netns of ${guestLabel(op.record)}`;
    case 'deleteLink':
      return `delete ${op.name}`;
    case 'enableIpForward':
      return `set net.ipv4.ip_forward=1 (was ${op.before})`;
    case 'restoreIpForward':
      return `restore net.ipv4.ip_forward=${op.value}`;
    case 'addGuestRules':
      return `forward and masquerade ${op.rule.hostIf} via ${op.rule.uplink}${op.createBase ? ' (creating the guestnet table)' : ''}`;
    case 'removeGuestRules':
      return `remove forwarding of ${op.rule.hostIf}${op.remaining.length === 0 ? ' and the guestnet table' : ''}`;
    case 'addPolicyRoute':
      return `route ${op.route.hostIf} by policy: ip rule to table ${op.route.table}, ${op.route.guestAddress} in table ${LOCAL_NETWORK_TABLE}`;
    case 'removePolicyRoute':
      return `remove the ip rule of ${op.route.hostIf}`;
    case 'switchUplink':
      return `move ${op.after.length} guest(s) to uplink ${op.after[0]?.uplink ?? '?'}`;
    case 'setForwards':
      return `forward ${op.record.forwards.map(describeForward).join(', ') || 'no ports'} to ${guestLabel(op.record)}`;
  }
}
