import type { GuestIpv6, Ipv6ForwardingBefore } from '../model/ipv6.js';
import { LOCAL_NETWORK_TABLE, type PolicyRoute } from '../model/policy.js';
import { describePortForward } from '../model/port-forward.js';
import { describeType } from '../model/link-type.js';
import {
  type AttachmentRecord,
  type BridgedVethRecord,
  type EmptyRecord,
  guestEndShown,
  guestLabel,
  isRouted,
  type LinkedRecord,
  type PhysRecord,
  type RecordOp,
  type RoutedVethRecord,
  type SublinkRecord,
  type VethRecord,
} from '../model/record.js';
import type { FirewallContent } from '../model/rules.js';

/** Takes guestnet's firewall from one content to another; its own inverse with the two swapped. */
export type SetGuestRules = { kind: 'setGuestRules'; before: FirewallContent; after: FirewallContent };

/** Changes attach makes. Each has an inverse in `undoOf`. */
export type SetupOp =
  | Extract<RecordOp, { kind: 'writeRecord' | 'updateRecords' }>
  | { kind: 'createVeth'; record: VethRecord }
  /** A group of new routed guests' pairs, each under its one-time name, made and set up by one `ip -batch` (plan/group.ts). */
  | { kind: 'createVeths'; records: RoutedVethRecord[] }
  /** A pair made but never set up (an attach that died halfway): the host end's settings, its setup, and up. */
  | { kind: 'setUpHostEnd'; record: RoutedVethRecord }
  | { kind: 'enableIpForward'; before: string }
  /** IPv6 forwarding on, and accept_ra=2 wherever the host takes router advertisements, so it keeps its RA-learned routes. */
  | { kind: 'enableIpv6Forwarding'; before: Ipv6ForwardingBefore }
  /** A routed guest in a prefix on-link upstream: the host answers neighbour discovery for it on its uplink. */
  | { kind: 'enableProxyNdp'; uplink: string; before: string }
  | { kind: 'addNdProxy'; uplink: string; address: string }
  | SetGuestRules
  /** On a netd-style host: the guest's ip rule to its uplink's table, and its route in table 97. */
  | { kind: 'addPolicyRoute'; route: PolicyRoute }
  /** macvlan, ipvlan or vlan: made from its parent on the host, tagged, and moved into the guest in one process. */
  | { kind: 'createSublink'; record: SublinkRecord }
  /** phys: the NIC, tagged, moves into the guest under the name the agent looks for. */
  | { kind: 'movePhys'; record: PhysRecord }
  /** A bridged veth: its port passes only the guest's own MAC and addresses; made before the port exists. */
  | { kind: 'addPortGuard'; record: BridgedVethRecord }
  /** empty: the guest's loopback up, and nothing else. */
  | { kind: 'setLoopbackUp'; record: EmptyRecord }
  /** The guest link's MTU, following its uplink's; a guest agent sets its own end. */
  | { kind: 'setLinkMtu'; record: RoutedVethRecord; mtu: number; before: number }
  /** An attached guest's IPv6 on its host end (exec/ipv6-steps.ts): the host gained IPv6 to share. */
  | { kind: 'addGuestIpv6'; record: RoutedVethRecord; ipv6: GuestIpv6 }
  /** Its inverse: the host lost its IPv6, and the guest's host end is left as a guest without IPv6 has it. */
  | { kind: 'removeGuestIpv6'; record: RoutedVethRecord; ipv6: GuestIpv6 }
  /** As in teardown: the last guest with IPv6 lost it. Its inverse turns forwarding on again. */
  | { kind: 'restoreIpv6Forwarding'; value: Ipv6ForwardingBefore }
  /**
   * A new token in the alias of the guest's link `name`, in its netns (protocol/README.md "Rotation"); `before`: the
   * token it carried. `netnsPath`: where its process enters that netns, a path held open for the rotation.
   */
  | { kind: 'setGuestAlias'; record: LinkedRecord; netnsPath: string; name: string; alias: string; before: string };

/** Changes detach makes. Each tolerates its target being gone already. */
export type TeardownOp =
  | Extract<RecordOp, { kind: 'deleteRecord' }>
  | { kind: 'deleteLink'; name: string }
  /**
   * Many links in one process: a launcher shutting down detaches every guest
   * at once. With `group`, `names` are exactly that group's links, deleted
   * in one kernel transaction.
   */
  | { kind: 'deleteLinks'; names: string[]; group?: number }
  | { kind: 'restoreIpForward'; value: string }
  | { kind: 'restoreIpv6Forwarding'; value: Ipv6ForwardingBefore }
  | { kind: 'restoreProxyNdp'; uplink: string; value: string }
  | { kind: 'removeNdProxy'; uplink: string; address: string }
  | SetGuestRules
  | { kind: 'removePolicyRoute'; route: PolicyRoute }
  | { kind: 'deleteSublinks'; record: SublinkRecord }
  | { kind: 'removePortGuard'; record: BridgedVethRecord }
  /** phys, in the guest: the NIC, found there by its identity as `from`, comes to the host under our passing name. */
  | { kind: 'fetchPhys'; record: PhysRecord; from: string }
  /** phys, on the host: the NIC, found by its identity as `name`, takes its name, addresses, MTU, state and alias back. */
  | { kind: 'restorePhys'; record: PhysRecord; name: string }
  /** phys: a link fetched under our passing name that is not the NIC goes back to the guest (or, the guest gone, away). */
  | { kind: 'sendBackPhys'; record: PhysRecord; name: string; guestAlive: boolean }
  /** phys: a NIC that never left the host loses our mark (the undo of a handover that failed). */
  | { kind: 'unmarkPhys'; record: PhysRecord }
  | { kind: 'setLoopbackDown'; record: EmptyRecord };

export type Op = SetupOp | TeardownOp;

/** Whether `op` changes records only: the record store carries those out. */
export const isRecordOp = (op: Op): op is RecordOp =>
  op.kind === 'writeRecord' || op.kind === 'updateRecords' || op.kind === 'deleteRecord';

type ByKind<U extends { kind: string }, R> = { [K in U['kind']]: (op: Extract<U, { kind: K }>) => R };

// The compiler insists that every setup op can be undone.
const undo: ByKind<SetupOp, Op> = {
  writeRecord: (op) => ({ kind: 'deleteRecord', id: op.record.id }),
  updateRecords: (op) => ({ kind: 'updateRecords', before: op.after, after: op.before }),
  // Deleting either end of a veth deletes the pair, in whichever netns the peer is.
  createVeth: (op) => ({ kind: 'deleteLink', name: op.record.hostIf }),
  setUpHostEnd: (op) => ({ kind: 'deleteLink', name: op.record.hostIf }),
  createVeths: (op) => ({ kind: 'deleteLinks', names: op.records.map((r) => r.hostIf) }),
  enableIpForward: (op) => ({ kind: 'restoreIpForward', value: op.before }),
  enableIpv6Forwarding: (op) => ({ kind: 'restoreIpv6Forwarding', value: op.before }),
  enableProxyNdp: (op) => ({ kind: 'restoreProxyNdp', uplink: op.uplink, value: op.before }),
  addNdProxy: (op) => ({ kind: 'removeNdProxy', uplink: op.uplink, address: op.address }),
  setGuestRules: (op) => ({ kind: 'setGuestRules', before: op.after, after: op.before }),
  addPolicyRoute: (op) => ({ kind: 'removePolicyRoute', route: op.route }),
  setLinkMtu: (op) => ({ ...op, mtu: op.before, before: op.mtu }),
  createSublink: (op) => ({ kind: 'deleteSublinks', record: op.record }),
  // The handover is one ip process, the last op of its attach: it is undone only when it failed, with the NIC still here.
  movePhys: (op) => ({ kind: 'unmarkPhys', record: op.record }),
  addPortGuard: (op) => ({ kind: 'removePortGuard', record: op.record }),
  setLoopbackUp: (op) => ({ kind: 'setLoopbackDown', record: op.record }),
  addGuestIpv6: (op) => ({ ...op, kind: 'removeGuestIpv6' }),
  removeGuestIpv6: (op) => ({ ...op, kind: 'addGuestIpv6' }),
  restoreIpv6Forwarding: (op) => ({ kind: 'enableIpv6Forwarding', before: op.value }),
  // A token that was the link's one-time name comes back as its alias: the link carries the same token either way.
  setGuestAlias: (op) => ({ ...op, alias: op.before, before: op.alias }),
};

export function undoOf(op: SetupOp): Op {
  return (undo[op.kind] as (op: SetupOp) => Op)(op);
}

function describeRuleChange({ before, after }: SetGuestRules): string {
  if (!after.installed) return 'remove the guestnet firewall';
  const was = new Map(before.guests.map((g) => [g.hostIf, g]));
  const now = new Set(after.guests.map((g) => g.hostIf));
  const added = after.guests.filter((g) => !was.has(g.hostIf));
  const removed = before.guests.filter((g) => !now.has(g.hostIf));
  const wasPorts = new Set(before.bridgedPorts);
  const nowPorts = new Set(after.bridgedPorts);
  const parts = [
    ...(!before.installed ? ['create the guestnet firewall'] : []),
    ...added.map((g) => `forward and masquerade ${g.hostIf} via ${g.uplink}`),
    ...removed.map((g) => `remove forwarding of ${g.hostIf}`),
    ...after.bridgedPorts.filter((p) => !wasPorts.has(p)).map((p) => `let bridged port ${p} through`),
    ...before.bridgedPorts.filter((p) => !nowPorts.has(p)).map((p) => `stop letting bridged port ${p} through`),
  ];
  return parts.join(', ') || `update the rules of ${after.guests.length} guest(s)`;
}

/** An update is a move to another uplink, a new MTU, a new token, or a change of forwards, in that order of telling. */
function describeUpdate({ before, after }: { before: AttachmentRecord[]; after: AttachmentRecord[] }): string {
  const [first] = after;
  const field = (r: AttachmentRecord | undefined, key: 'uplink' | 'mtu') => (r && key in r ? (r as RoutedVethRecord)[key] : undefined);
  const changed = (key: 'uplink' | 'mtu') => after.some((r, i) => field(r, key) !== field(before[i], key));
  if (changed('uplink')) return `move ${after.length} guest(s) to uplink ${field(first, 'uplink') ?? '?'}`;
  const ipv6Of = (r: AttachmentRecord | undefined) => (r && isRouted(r) ? r.ipv6 : undefined);
  const gains = after.filter((r, i) => ipv6Of(r) !== undefined && ipv6Of(before[i]) === undefined).length;
  const losses = after.filter((r, i) => ipv6Of(r) === undefined && ipv6Of(before[i]) !== undefined).length;
  if (gains > 0) return `give ${gains} guest(s) IPv6, which the host now has to share`;
  if (losses > 0) return `take IPv6 from ${losses} guest(s): the host has none to share`;
  if (changed('mtu')) return `follow the uplink's MTU for ${after.length} guest(s)`;
  if (first && first.token !== before[0]?.token) return `remember the new token of ${guestLabel(first)}`;
  if (first && first.awaitingGuest !== before[0]?.awaitingGuest)
    return `${first.awaitingGuest ? 'wait for' : 'done waiting for'} the guest agent of ${guestLabel(first)}`;
  return `forward ${(first && isRouted(first) ? first.forwards : []).map(describePortForward).join(', ') || 'no ports'} to ${first ? guestLabel(first) : '?'}`;
}

/** One line per op for humans: what it means, not how. */
export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'writeRecord':
      return `remember attachment of ${guestLabel(op.record)}`;
    case 'updateRecords':
      return describeUpdate(op);
    case 'deleteRecord':
      return `forget attachment ${op.id}`;
    case 'createVeth': {
      const { record } = op;
      const ipv6 = isRouted(record) && record.ipv6 ? `, ${record.ipv6.hostAddress} peer ${record.ipv6.guestAddress}` : '';
      const addresses = record.dhcp ? 'DHCP' : `${record.hostAddress} peer ${record.guestAddress}${ipv6}`;
      return `create ${record.hostIf} (${addresses}) with ${guestEndShown(record)} in the netns of ${guestLabel(record)}`;
    }
    case 'createVeths':
      return `create ${op.records.length} pair(s) for ${op.records.map(guestLabel).join(', ')}`;
    case 'setUpHostEnd':
      return `set up ${op.record.hostIf}, made but never set up, for ${guestLabel(op.record)}`;
    case 'deleteLink':
      return `delete ${op.name}`;
    case 'setGuestAlias':
      return `give the link of ${guestLabel(op.record)} a new token`;
    case 'deleteLinks':
      return `delete ${op.names.length} link(s): ${op.names.slice(0, 4).join(' ')}${op.names.length > 4 ? ' …' : ''}`;
    case 'enableIpForward':
      return `set net.ipv4.ip_forward=1 (was ${op.before})`;
    case 'restoreIpForward':
      return `restore net.ipv4.ip_forward=${op.value}`;
    case 'enableIpv6Forwarding': {
      const acceptRa = Object.keys(op.before.acceptRa);
      return `set net.ipv6.conf.all.forwarding=1 (was ${op.before.forwarding})${acceptRa.length > 0 ? `, accept_ra=2 on ${acceptRa.join(' ')}` : ''}`;
    }
    case 'restoreIpv6Forwarding':
      return `restore net.ipv6.conf.all.forwarding=${op.value.forwarding}${Object.keys(op.value.acceptRa).length > 0 ? ' and accept_ra' : ''}`;
    case 'enableProxyNdp':
      return `set net.ipv6.conf.${op.uplink}.proxy_ndp=1 (was ${op.before})`;
    case 'restoreProxyNdp':
      return `restore net.ipv6.conf.${op.uplink}.proxy_ndp=${op.value}`;
    case 'addNdProxy':
      return `answer neighbour discovery for ${op.address} on ${op.uplink}`;
    case 'removeNdProxy':
      return `stop answering neighbour discovery for ${op.address} on ${op.uplink}`;
    case 'setGuestRules':
      return describeRuleChange(op);
    case 'addPolicyRoute':
      return `route ${op.route.hostIf} by policy: ip rule to table ${op.route.table}, ${op.route.guestAddress} in table ${LOCAL_NETWORK_TABLE}`;
    case 'removePolicyRoute':
      return `remove the ip rule of ${op.route.hostIf}`;
    case 'createSublink':
      return `create ${describeType(op.record)} as ${guestEndShown(op.record)} in the netns of ${guestLabel(op.record)}`;
    case 'deleteSublinks':
      return `delete the ${describeType(op.record)} link of ${guestLabel(op.record)}`;
    case 'movePhys':
      return `hand ${op.record.link} to ${guestLabel(op.record)} as ${guestEndShown(op.record)}`;
    case 'fetchPhys':
      return `take ${op.record.link} (${guestEndShown({ guestIf: op.from })} in the guest) back from ${guestLabel(op.record)}`;
    case 'restorePhys':
      return `give ${op.record.link} back to the host${op.name === op.record.link ? '' : ` (here as ${op.name})`}, with its addresses`;
    case 'sendBackPhys':
      return `${op.guestAlive ? 'send back' : 'delete'} ${op.name}, which ${guestLabel(op.record)} gave instead of ${op.record.link}`;
    case 'unmarkPhys':
      return `remove the mark of ${op.record.link}`;
    case 'addPortGuard':
      return `lock the port ${op.record.hostIf} to the guest's MAC and addresses`;
    case 'removePortGuard':
      return `remove the lock of the port ${op.record.hostIf}`;
    case 'setLoopbackUp':
      return `bring up the loopback of ${guestLabel(op.record)}`;
    case 'setLoopbackDown':
      return `take down the loopback of ${guestLabel(op.record)}`;
    case 'addGuestIpv6':
      return `give ${op.record.hostIf} the IPv6 gateway ${op.ipv6.hostAddress} and a route to ${op.ipv6.guestAddress}`;
    case 'removeGuestIpv6':
      return `take IPv6 off ${op.record.hostIf}`;
    case 'setLinkMtu':
      return `set the MTU of ${op.record.hostIf} to ${op.mtu} (was ${op.before})`;
  }
}
