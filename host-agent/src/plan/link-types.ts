import { NameTakenError, UsageError } from '@guestnet/protocol';
import type { HostObserved } from '../model/host.js';
import { describeType, type GuestSeen, isBridged, isSublink, typeOf } from '../model/link-type.js';
import { type AttachmentRecord, guestLabel, hostLinkAlias } from '../model/record.js';
import type { SetupOp, TeardownOp } from './ops.js';

// The network types other than the routed veth (docs/network-types.md). None
// of them forwards, NATs or firewalls: the guest joins a network that exists
// already. Each plan reads top to bottom, and teardown mirrors setup.

const ownsLink = (observed: HostObserved, record: AttachmentRecord) => observed.aliases.get(record.hostIf) === hostLinkAlias(record);

function refuse(
  observed: HostObserved,
  desired: AttachmentRecord,
  existing: AttachmentRecord | undefined,
  uplink: string | undefined,
  force: boolean,
): void {
  if (existing && (typeOf(existing) !== typeOf(desired) || existing.link !== desired.link)) {
    throw new UsageError(`${guestLabel(desired)} is already attached as ${describeType(existing)}; detach it first`);
  }
  if (desired.link !== undefined && !observed.links.has(desired.link) && !existing)
    throw new UsageError(`--link ${desired.link} does not exist on the host`);
  for (const other of observed.records.filter((r) => r.id !== desired.id)) {
    if (typeOf(desired) === 'phys' && typeOf(other) === 'phys' && other.link === desired.link)
      throw new NameTakenError(`${desired.link} is already handed to the guest of ${guestLabel(other)}`);
    if (isBridged(desired) && other.hostIf === desired.hostIf)
      throw new NameTakenError(`${desired.hostIf} already belongs to the guest of ${guestLabel(other)}`);
  }
  if (typeOf(desired) === 'phys' && !existing && desired.link === uplink && !force) {
    throw new UsageError(
      `${desired.link} carries the host's default route; handing it over would cut the host off (--force to do it anyway)`,
    );
  }
}

/** The ops that attach a guest of any type but the routed veth. */
export function planAttachTyped(
  observed: HostObserved,
  desired: AttachmentRecord,
  uplink: string | undefined,
  options: { force?: boolean; guest?: GuestSeen | undefined } = {},
): SetupOp[] {
  const existing = observed.records.find((r) => r.id === desired.id);
  refuse(observed, desired, existing, uplink, options.force === true);
  // A record whose attach was cut short is completed where something is missing: a bridge
  // port not made, a NIC not yet handed over, a guest seen without its sublink or with its
  // loopback down. The guest's addresses and routes are the agent's to see.
  if (existing) {
    if (isSublink(existing) && options.guest?.ourLink === false) return [{ kind: 'createSublink', record: existing }];
    if (typeOf(existing) === 'empty' && options.guest?.loopbackUp === false) return [{ kind: 'setLoopbackUp', record: existing }];
    if (isBridged(existing) && !observed.links.has(existing.hostIf)) return [{ kind: 'createVeth', record: existing }];
    if (
      typeOf(existing) === 'phys' &&
      existing.link !== undefined &&
      observed.links.has(existing.link) &&
      observed.aliases.get(existing.link) !== existing.token
    )
      return [{ kind: 'movePhys', record: existing }];
    return [];
  }
  const ops: SetupOp[] = [{ kind: 'writeRecord', record: desired }];
  switch (typeOf(desired)) {
    case 'veth':
      if (observed.links.has(desired.hostIf))
        throw new NameTakenError(`a link named ${desired.hostIf} already exists and guestnet did not create it; choose another --host-if`);
      return [...ops, { kind: 'createVeth', record: desired }];
    case 'macvlan':
    case 'ipvlan':
    case 'vlan':
      return [...ops, { kind: 'createSublink', record: desired }];
    case 'phys':
      return [...ops, { kind: 'movePhys', record: desired }];
    case 'empty':
      return [...ops, { kind: 'setLoopbackUp', record: desired }];
    case 'none':
      return ops;
  }
}

/**
 * The ops that take a typed guest away. A phys NIC comes back from the
 * guest, or, when its netns died, from wherever the kernel put it: the
 * host's netns, under the name it had inside, still carrying our alias.
 */
export function planDetachTyped(observed: HostObserved, record: AttachmentRecord): TeardownOp[] {
  const ops: TeardownOp[] = [];
  if (isBridged(record) && observed.links.has(record.hostIf) && ownsLink(observed, record))
    ops.push({ kind: 'deleteLink', name: record.hostIf });
  if (isSublink(record)) ops.push({ kind: 'deleteSublinks', record });
  if (typeOf(record) === 'phys') {
    const returned = [...observed.aliases].find(([, alias]) => alias === record.token)?.[0];
    ops.push({ kind: 'returnPhys', record, ...(returned === undefined ? {} : { foundAs: returned }) });
  }
  if (observed.records.some((r) => r.id === record.id)) ops.push({ kind: 'deleteRecord', id: record.id });
  return ops;
}
