import { ONE_TIME_NAME, secretsOf } from '@guestnet/protocol';
import type { Firewall } from '../firewall/firewall.js';
import { GUEST_RULE_PRIORITY, LOCAL_NETWORK_TABLE, type PolicyRoute } from '../model/policy.js';
import type { Ipv6ForwardingBefore } from '../model/ipv6.js';
import { IP_FORWARD_PATH, IPV6_CONF_DIR, IPV6_FORWARDING_PATH, proxyNdpBeforePath, statePaths } from '../model/paths.js';
import { hasGuestLink, type RecordOp } from '../model/record.js';
import { IP_BATCH, type Step } from '../model/step.js';
import type { Op } from '../plan/ops.js';
import { recordWrites } from '../state/records.js';
import { guestIpv6Steps } from './ipv6-steps.js';
import { typedSteps } from './typed-steps.js';
import { vethSteps } from './veth-steps.js';

/** What turning an op into steps needs beyond the op. */
export interface StepContext {
  firewall: Firewall;
  stateDir: string;
}

type StepsByKind = { [K in Op['kind']]: (op: Extract<Op, { kind: K }>, ctx: StepContext) => Step[] };

const NO_DEVICE = /Cannot find device|does not exist/;
/** Every line of a batch's errors says a device was gone. */
const ONLY_GONE = /^(?:(?:Cannot find device|Command failed|[^\n]*does not exist)[^\n]*(?:\n|$))+$/;
const ROUTE_GONE = /No such process|Cannot find device|No such file/;

const recordSteps = (op: RecordOp, ctx: StepContext): Step[] => recordWrites(op, ctx.stateDir).map(({ step }) => step);

const deleteGuestRule = (r: PolicyRoute, family: '-4' | '-6' = '-4'): Step => ({
  kind: 'run',
  argv: ['ip', family, 'rule', 'del', 'priority', String(GUEST_RULE_PRIORITY), 'iif', r.hostIf],
  tolerate: /No such file or directory|Address family not supported/,
});

/** An interface that has gone since is skipped: its setting went with it. */
const acceptRaSteps = (before: Ipv6ForwardingBefore, value: (before: string) => string): Step[] =>
  Object.entries(before.acceptRa).map(([name, was]) => ({
    kind: 'sysctl',
    path: `${IPV6_CONF_DIR}/${name}/accept_ra`,
    value: value(was),
    ifPresent: true,
  }));

const steps: StepsByKind = {
  // What the record store (state/store.ts) writes when it carries these out.
  writeRecord: (op, ctx) => recordSteps(op, ctx),
  updateRecords: (op, ctx) => recordSteps(op, ctx),
  deleteRecord: (op, ctx) => recordSteps(op, ctx),

  ...vethSteps,
  deleteLink: (op) => [{ kind: 'run', argv: ['ip', 'link', 'del', 'dev', op.name], tolerate: NO_DEVICE }],
  // The token goes in on stdin: a process's argv is there for any user of the host to read.
  setGuestAlias: ({ netnsPath, name, alias }) => [
    {
      kind: 'run',
      argv: ['nsenter', `--net=${netnsPath}`, 'ip', '-batch', '-'],
      input: `link set dev ${name} alias ${alias}\n`,
      guestOnly: true,
    },
  ],
  // -force goes on past a link already gone; the step fails only if some other error is among them.
  deleteLinks: (op) =>
    op.group === undefined
      ? [
          {
            kind: 'run',
            argv: ['ip', '-force', '-batch', '-'],
            input: op.names.map((name) => `link del dev ${name}\n`).join(''),
            tolerate: ONLY_GONE,
          },
        ]
      : [{ kind: 'run', argv: ['ip', 'link', 'del', 'group', String(op.group)], tolerate: /No such device/ }],

  enableIpForward: (op, ctx) => [
    { kind: 'write', path: statePaths(ctx.stateDir).ipForwardBefore, content: `${op.before}\n` },
    { kind: 'sysctl', path: IP_FORWARD_PATH, value: '1', waitsForRtnl: true },
  ],
  restoreIpForward: (op, ctx) => [
    { kind: 'sysctl', path: IP_FORWARD_PATH, value: op.value, waitsForRtnl: true },
    { kind: 'remove', path: statePaths(ctx.stateDir).ipForwardBefore },
  ],

  // accept_ra=2 comes first, and goes last: the host never spends a moment ignoring its routers.
  enableIpv6Forwarding: (op, ctx) => [
    { kind: 'write', path: statePaths(ctx.stateDir).ipv6ForwardingBefore, content: `${JSON.stringify(op.before)}\n` },
    ...acceptRaSteps(op.before, () => '2'),
    { kind: 'sysctl', path: IPV6_FORWARDING_PATH, value: '1', waitsForRtnl: true },
  ],
  restoreIpv6Forwarding: (op, ctx) => [
    { kind: 'sysctl', path: IPV6_FORWARDING_PATH, value: op.value.forwarding, waitsForRtnl: true },
    ...acceptRaSteps(op.value, (before) => before),
    { kind: 'remove', path: statePaths(ctx.stateDir).ipv6ForwardingBefore },
  ],

  enableProxyNdp: (op, ctx) => [
    { kind: 'write', path: proxyNdpBeforePath(ctx.stateDir, op.uplink), content: `${op.before}\n` },
    { kind: 'sysctl', path: `${IPV6_CONF_DIR}/${op.uplink}/proxy_ndp`, value: '1' },
  ],
  restoreProxyNdp: (op, ctx) => [
    { kind: 'sysctl', path: `${IPV6_CONF_DIR}/${op.uplink}/proxy_ndp`, value: op.value, ifPresent: true },
    { kind: 'remove', path: proxyNdpBeforePath(ctx.stateDir, op.uplink) },
  ],
  addNdProxy: (op) => [{ kind: 'run', argv: ['ip', '-6', 'neigh', 'replace', 'proxy', op.address, 'dev', op.uplink] }],
  removeNdProxy: (op) => [
    {
      kind: 'run',
      argv: ['ip', '-6', 'neigh', 'del', 'proxy', op.address, 'dev', op.uplink],
      tolerate: /No such file|Cannot find device|RTNETLINK answers: No such/,
    },
  ],

  setGuestRules: (op, ctx) => ctx.firewall.change(op.before, op.after),
  // Whatever rule the link had (another uplink's table, say) goes first: ip rules may be duplicated.
  // IPv6 the same way, in the same tables: netd keeps a network's routes of both families in one.
  addPolicyRoute: ({ route: r }) => [
    deleteGuestRule(r),
    {
      kind: 'run',
      argv: [...IP_BATCH],
      spare: 'ip-batch',
      input:
        `rule add priority ${GUEST_RULE_PRIORITY} iif ${r.hostIf} lookup ${r.table}\n` +
        `route replace ${r.guestAddress}/32 dev ${r.hostIf} src ${r.gateway} table ${LOCAL_NETWORK_TABLE}\n`,
    },
    ...(r.guestAddress6 === undefined
      ? []
      : [
          deleteGuestRule(r, '-6'),
          {
            kind: 'run' as const,
            argv: ['ip', '-6', '-batch', '-'],
            input:
              `rule add priority ${GUEST_RULE_PRIORITY} iif ${r.hostIf} lookup ${r.table}\n` +
              `route replace ${r.guestAddress6}/128 dev ${r.hostIf} table ${LOCAL_NETWORK_TABLE}\n`,
          },
        ]),
  ],
  removePolicyRoute: ({ route: r }) => [
    deleteGuestRule(r),
    {
      kind: 'run',
      argv: ['ip', 'route', 'del', `${r.guestAddress}/32`, 'dev', r.hostIf, 'table', String(LOCAL_NETWORK_TABLE)],
      tolerate: ROUTE_GONE,
    },
    ...(r.guestAddress6 === undefined
      ? []
      : [
          deleteGuestRule(r, '-6'),
          {
            kind: 'run' as const,
            argv: ['ip', '-6', 'route', 'del', `${r.guestAddress6}/128`, 'dev', r.hostIf, 'table', String(LOCAL_NETWORK_TABLE)],
            tolerate: ROUTE_GONE,
          },
        ]),
  ],
  // A veth drops a packet larger than the MTU of the end that receives it: shrinking starts with the guest's end,
  // growing ends with it. A CNI container has no agent, so its end is set from here.
  ...typedSteps,
  ...guestIpv6Steps,

  setLinkMtu: ({ record: r, mtu, before }) => {
    const host: Step = { kind: 'run', argv: ['ip', 'link', 'set', 'dev', r.hostIf, 'mtu', String(mtu)], tolerate: NO_DEVICE };
    if (!r.cni) return [host];
    const guest: Step = {
      kind: 'run',
      argv: ['nsenter', `--net=${r.netnsPath}`, 'ip', 'link', 'set', 'dev', r.guestIf, 'mtu', String(mtu)],
      tolerate: /Cannot find device|does not exist|No such file/,
    };
    return mtu < before ? [guest, host] : [host, guest];
  },
};

/** The tokens and one-time names an op's steps may carry: a printed step or error shows placeholders instead. */
export function secretsIn(op: Op): string[] {
  const records =
    'record' in op ? [op.record] : op.kind === 'updateRecords' ? [...op.before, ...op.after] : 'records' in op ? op.records : [];
  const tokens = [...records.map((r) => r.token), ...(op.kind === 'setGuestAlias' ? [op.alias, op.before] : [])];
  // A one-time name stays in the record after a rotation: it was a token once, and is never shown either.
  const names = records.flatMap((r) => (hasGuestLink(r) && ONE_TIME_NAME.test(r.guestIf) ? [r.guestIf] : []));
  return [...new Set([...tokens.flatMap(secretsOf), ...names])];
}

/** The exact steps of an op: what a real run executes and a dry run prints. */
export function stepsOf(op: Op, ctx: StepContext): Step[] {
  return (steps[op.kind] as (op: Op, ctx: StepContext) => Step[])(op, ctx);
}
