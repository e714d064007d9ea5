import { MissingToolError, NameTakenError, UsageError } from '@guestnet/protocol';
import type { HostObserved } from '../model/host.js';
import { type BridgedVethRecord, guestLabel, hostEndOf, hostLinkAlias } from '../model/record.js';
import { firewallOf, observedFirewall } from '../model/rules.js';
import { onPath } from '../net/tools.js';
import type { SetupOp, TeardownOp } from '../plan/ops.js';
import type { LinkDriver } from './driver.js';
import { observeHost } from '../observe.js';
import { baseOf, detachOnce, forgetting, joinedLinkOf, linkOf, refuseJoined, sameType } from './joined.js';

// A veth whose host end is a port of an existing bridge: the guest is on the
// bridge's LAN. With --port-security the port passes only the guest's own
// MAC and addresses (exec/port-guard.ts); the lock is made before the port.
// Where the host's iptables see bridged frames (br_netfilter) and drop what
// they forward, as Docker's do, guestnet's firewall lets the port through
// (firewall/iptables-rules.ts, bridgedPortRules): made before the port, gone
// after it.

const ownsPort = (observed: HostObserved, record: BridgedVethRecord) => observed.aliases.get(record.hostIf) === hostLinkAlias(record);

/** The port let through guestnet's firewall, where it is not yet. */
function letThrough(observed: HostObserved, record: BridgedVethRecord): SetupOp[] {
  const { firewall } = observed;
  if (firewall.hasPort(record.hostIf)) return [];
  const others = observed.records.filter((r) => r.id !== record.id);
  return [{ kind: 'setGuestRules', before: observedFirewall(firewall, others), after: firewallOf([...others, record]) }];
}

/** The port no longer let through: the firewall as the others need it, gone with the last. */
function letGo(observed: HostObserved, record: BridgedVethRecord): TeardownOp[] {
  const { firewall } = observed;
  if (!firewall.installed && !firewall.found) return [];
  const others = observed.records.filter((r) => r.id !== record.id);
  return [{ kind: 'setGuestRules', before: observedFirewall(firewall, [...others, record]), after: firewallOf(others) }];
}

function planAttach(observed: HostObserved, desired: BridgedVethRecord, existing: BridgedVethRecord | undefined): SetupOp[] {
  refuseJoined(observed, desired, existing);
  if (existing && existing.portSecurity !== desired.portSecurity)
    throw new UsageError(
      `${guestLabel(desired)} is attached with --port-security ${existing.portSecurity ? 'on' : 'off'}; detach it first`,
    );
  for (const other of observed.records)
    if (other.id !== desired.id && hostEndOf(other) === desired.hostIf)
      throw new NameTakenError(`${desired.hostIf} already belongs to the guest of ${guestLabel(other)}`);
  const record = existing ?? desired;
  // The lock comes before the port exists, in one nft transaction that replaces whatever is there:
  // the guest never has a moment to send unchecked.
  const port: SetupOp[] = [
    ...(record.portSecurity ? [{ kind: 'addPortGuard' as const, record }] : []),
    ...letThrough(observed, record),
    { kind: 'createVeth', record },
  ];
  // A record whose attach was cut short gets the port it lacks, or its way through the firewall.
  if (existing) return observed.links.has(existing.hostIf) ? letThrough(observed, existing) : port;
  if (observed.links.has(desired.hostIf))
    throw new NameTakenError(`a link named ${desired.hostIf} already exists and guestnet did not create it; choose another --host-if`);
  return [{ kind: 'writeRecord', record: desired }, ...port];
}

function planDetach(observed: HostObserved, record: BridgedVethRecord): TeardownOp[] {
  return [
    ...(observed.links.has(record.hostIf) && ownsPort(observed, record) ? [{ kind: 'deleteLink' as const, name: record.hostIf }] : []),
    ...letGo(observed, record),
    ...(record.portSecurity ? [{ kind: 'removePortGuard' as const, record }] : []),
    ...forgetting(observed, record),
  ];
}

export const bridgedVethDriver: LinkDriver<BridgedVethRecord> = {
  async prepare(input) {
    const { settings } = input;
    const existing = sameType<BridgedVethRecord>(input, 'bridged-veth');
    if (settings.portSecurity && !input.existing && !(await onPath('nft')))
      throw new MissingToolError(
        'nft',
        "the 'nftables' package: it locks a bridged guest's port to the guest (--port-security off attaches without)",
      );
    // Every link, for a name no link has, and the firewall as the port needs it seen (ip6tables' too, firewall/iptables.ts):
    // in a daemon, both from memory.
    const observed = await observeHost(input.runner, settings.stateDir, input.ctx.firewall, input.records, { links: 'all', bridged: true });
    // A pair that arrives whole under its one-time name is made by one host process, as the routed veth's is.
    const base = baseOf(input, true);
    const { fields, leasedHostIf } = await joinedLinkOf(input, observed, existing, undefined, base.token);
    const desired: BridgedVethRecord = {
      ...base,
      type: 'bridged-veth',
      link: linkOf(settings),
      ...(settings.portSecurity ? { portSecurity: true as const } : {}),
      hostIf: existing?.hostIf ?? leasedHostIf ?? settings.hostIf ?? settings.hostIfPrefix,
      ...(settings.hostIf === undefined ? { hostIfPrefix: settings.hostIfPrefix } : {}),
      ...fields,
    };
    return { observed, desired, options: {} };
  },
  planAttach,
  planDetach,
  detach: (record, records, runner, ctx) => detachOnce(record, { links: [record.hostIf], bridged: true }, planDetach, records, runner, ctx),
};
