import { ONE_TIME_NAME, oneTimeNameOf, secretsOf } from '@guestnet/protocol';
import { dhcpGuestEndLines, dhcpHostEndLines } from '../dhcp/link-setup.js';
import type { Firewall } from '../firewall/firewall.js';
import { onLoopback } from '../firewall/localnet.js';
import { GUEST_RULE_PRIORITY, LOCAL_NETWORK_TABLE, type PolicyRoute } from '../model/policy.js';
import type { Ipv6ForwardingBefore } from '../model/ipv6.js';
import { IP_FORWARD_PATH, IPV6_CONF_DIR, IPV6_FORWARDING_PATH, proxyNdpBeforePath, statePaths } from '../model/paths.js';
import { HOST_LINK_GROUP, hasGuestLink, hostLinkAlias, type RecordOp, type VethRecord } from '../model/record.js';
import { IP_BATCH, type Step } from '../model/step.js';
import type { Op } from '../plan/ops.js';
import { recordWrites } from '../state/records.js';
import { guestIpv6Steps } from './ipv6-steps.js';
import { typedSteps } from './typed-steps.js';

/** What turning an op into steps needs beyond the op. */
export interface StepContext {
  firewall: Firewall;
  stateDir: string;
}

type StepsByKind = { [K in Op['kind']]: (op: Extract<Op, { kind: K }>, ctx: StepContext) => Step[] };

/** The netns the agent runs in: the host's. */
const HOST_NETNS = `/proc/${process.pid}/ns/net`;

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

/**
 * The host end's settings, written after the link exists and before it comes up, so that no packet ever
 * meets the link without them. A guest is never one of the host's routers: its router advertisements and
 * redirects are ignored, whatever `default` holds (the first IPv6 guest sets its accept_ra to 2, for the
 * host's own links). A routed link carries only what is routed to it (rp_filter), and no IPv6 at all where
 * the guest has none: its neighbour discovery could otherwise fill the neighbour table the whole machine
 * shares. Each setting goes with its link. IPv6's are skipped where the kernel has no IPv6.
 */
function hostEndSysctls(r: VethRecord): Step[] {
  const ipv4 = (key: string, value: string): Step => ({ kind: 'sysctl', path: `/proc/sys/net/ipv4/conf/${r.hostIf}/${key}`, value });
  const ipv6 = (key: string, value: string): Step => ({
    kind: 'sysctl',
    path: `${IPV6_CONF_DIR}/${r.hostIf}/${key}`,
    value,
    ifPresent: true,
  });
  const routed = r.type === 'routed-veth';
  return [
    ipv6('accept_ra', '0'),
    ipv6('accept_redirects', '0'),
    ipv4('accept_redirects', '0'),
    ...(routed ? [ipv4('rp_filter', '1')] : []),
    // Guests believe their whole subnet is on-link; only a guest open to others gets its ARP answered for them.
    ...(routed && r.guestToGuest ? [ipv4('proxy_arp', '1')] : []),
    ...(routed && !r.ipv6 ? [ipv6('disable_ipv6', '1')] : []),
    // A published port the host reaches at 127.0.0.1 (firewall/localnet.ts), for a link made again under rules still in place.
    ...(routed && r.forwards.some(onLoopback) ? [ipv4('route_localnet', '1')] : []),
  ];
}

/** The host end's tag: what makes it ours, even before it is set up. */
const tagLines = (r: VethRecord): string[] =>
  r.tagged ? [`link set dev ${r.hostIf} alias ${hostLinkAlias(r)} group ${HOST_LINK_GROUP}`] : [];

const guestEnd = (r: VethRecord) => `type veth peer name ${r.guestIf} mtu ${r.mtu} address ${r.guestMac} netns ${r.netnsPath}`;

/** The host end's setup as `ip -batch` input, ending in an empty line; `verb` replace where it may hold its addresses (made, never set up). */
const hostEndLines = (r: VethRecord, { tag = true, verb = 'add' } = {}): string[] => {
  // A bridged veth's host end is only a port of the bridge.
  const ipv6 = r.type === 'routed-veth' ? r.ipv6 : undefined;
  return [
    r.type === 'routed-veth'
      ? `address ${verb} ${r.hostAddress}/32 peer ${r.guestAddress}/32 dev ${r.hostIf}`
      : `link set dev ${r.hostIf} master ${r.link}`,
    // The same gateway on every guest link, as for IPv4, and a /128 route to each guest: no two links share a prefix.
    ...(ipv6 ? [`address ${verb} ${ipv6.hostAddress}/128 dev ${r.hostIf} nodad`] : []),
    ...(tag ? tagLines(r) : []),
    `link set dev ${r.hostIf} up`,
    ...dhcpHostEndLines(r),
    ...(ipv6 ? [`route replace ${ipv6.guestAddress}/128 dev ${r.hostIf}`] : []),
    '',
  ];
};

const steps: StepsByKind = {
  // What the record store (state/store.ts) writes when it carries these out.
  writeRecord: (op, ctx) => recordSteps(op, ctx),
  updateRecords: (op, ctx) => recordSteps(op, ctx),
  deleteRecord: (op, ctx) => recordSteps(op, ctx),

  // The pair is made with its guest end created in the guest's netns: moving a link between netns costs the kernel
  // far more than creating it in place. The guest end carries the token (the guest's proof of identity, see
  // protocol/README.md) from its creation, so the guest agent, woken by the link's arrival, finds it tagged; and
  // only the guest's netns ever holds the token. The kernel takes a name at creation but no alias: a one-time name
  // that is the token lets one host process make and set up the pair, its host end's settings written while that
  // process waits halfway (it prints the new link once made). A guest end of a lasting name needs its alias set in
  // the guest's netns, so that process makes the pair there, and the settings go between it and the host end's
  // setup. Either way they precede the setup, which brings the host end up.
  createVeth: ({ record: r }) =>
    oneTimeNameOf(r.token) === r.guestIf
      ? [
          {
            kind: 'run',
            argv: [...IP_BATCH],
            spare: 'ip-batch',
            input: [
              `link add ${r.hostIf} mtu ${r.mtu} type veth peer name ${r.guestIf} mtu ${r.mtu} address ${r.guestMac} netns ${r.netnsPath}`,
              // Tagged at once: should the agent die halfway, the link is still known as ours (setUpHostEnd).
              ...tagLines(r),
              `link show dev ${r.hostIf}`,
              '',
            ].join('\n'),
            midway: { steps: hostEndSysctls(r), rest: hostEndLines(r, { tag: false }).join('\n') },
          },
        ]
      : [
          {
            kind: 'run',
            argv: ['nsenter', `--net=${r.netnsPath}`, 'ip', '-batch', '-'],
            input: [
              `link add ${r.guestIf} mtu ${r.mtu} address ${r.guestMac} type veth peer name ${r.hostIf} mtu ${r.mtu} netns ${HOST_NETNS}`,
              `link set dev ${r.guestIf} alias ${r.token}`,
              ...dhcpGuestEndLines(r),
              '',
            ].join('\n'),
          },
          ...hostEndSysctls(r),
          { kind: 'run', argv: [...IP_BATCH], spare: 'ip-batch', input: hostEndLines(r).join('\n') },
        ],
  // A group's pairs in one process, as createVeth makes one; the last one shown, every one before it was made.
  createVeths: ({ records }) => [
    {
      kind: 'run',
      argv: [...IP_BATCH],
      spare: 'ip-batch',
      input: [
        ...records.flatMap((r) => [`link add ${r.hostIf} mtu ${r.mtu} ${guestEnd(r)}`, ...tagLines(r)]),
        `link show dev ${records.at(-1)?.hostIf}\n`,
      ].join('\n'),
      midway: {
        steps: records.flatMap(hostEndSysctls),
        rest: [...records.flatMap((r) => hostEndLines(r, { tag: false }).slice(0, -1)), ''].join('\n'),
      },
    },
  ],
  setUpHostEnd: ({ record: r }) => [
    ...hostEndSysctls(r),
    { kind: 'run', argv: [...IP_BATCH], spare: 'ip-batch', input: hostEndLines(r, { verb: 'replace' }).join('\n') },
  ],
  deleteLink: (op) => [{ kind: 'run', argv: ['ip', 'link', 'del', 'dev', op.name], tolerate: NO_DEVICE }],
  // The token goes in on stdin: a process's argv is there for any user of the host to read.
  setGuestAlias: ({ record: r, name, alias }) => [
    { kind: 'run', argv: ['nsenter', `--net=${r.netnsPath}`, 'ip', '-batch', '-'], input: `link set dev ${name} alias ${alias}\n` },
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
