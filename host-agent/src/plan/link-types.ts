import { createHash } from 'node:crypto';
import { GuestWithholdsError, NameTakenError, UsageError } from '@guestnet/protocol';
import type { HostObserved } from '../model/host.js';
import { describeType, type GuestSeen, isBridged, isSublink, typeOf } from '../model/link-type.js';
import type { NicSeen } from '../model/nic.js';
import { type AttachmentRecord, guestLabel, hostLinkAlias } from '../model/record.js';
import type { SetupOp, TeardownOp } from './ops.js';

// The network types other than the routed veth (docs/network-types.md). None
// of them forwards, NATs or firewalls: the guest joins a network that exists
// already. Each plan reads top to bottom, and teardown mirrors setup.

const ownsLink = (observed: HostObserved, record: AttachmentRecord) => observed.aliases.get(record.hostIf) === hostLinkAlias(record);
const guarded = (record: AttachmentRecord) => isBridged(record) && record.portSecurity === true;

/** A short name for the moment a link spends in the host's netns between its move and its setup. */
export const passingName = (r: Pick<AttachmentRecord, 'id'>) => `gn${createHash('sha256').update(r.id).digest('hex').slice(0, 12)}`;

/** The nftables table that locks a bridged guest's port (exec/port-guard.ts): one per record. */
export const portGuardTable = (r: Pick<AttachmentRecord, 'id'>): string => `bridge guestnet_port_${r.id}`;

export interface TypedOptions {
  force?: boolean;
  /** What a typed guest's netns showed, where the host observation cannot look. */
  guest?: GuestSeen | undefined;
  /** phys: why the link is not a NIC, from what the kernel says of it; unset when it is one. */
  notNic?: string | undefined;
}

function refuse(
  observed: HostObserved,
  desired: AttachmentRecord,
  existing: AttachmentRecord | undefined,
  uplink: string | undefined,
  options: TypedOptions,
): void {
  if (existing && (typeOf(existing) !== typeOf(desired) || existing.link !== desired.link)) {
    throw new UsageError(`${guestLabel(desired)} is already attached as ${describeType(existing)}; detach it first`);
  }
  if (existing && isBridged(existing) && existing.portSecurity !== desired.portSecurity)
    throw new UsageError(
      `${guestLabel(desired)} is attached with --port-security ${existing.portSecurity ? 'on' : 'off'}; detach it first`,
    );
  if (desired.link !== undefined && !observed.links.has(desired.link) && !existing)
    throw new UsageError(`--link ${desired.link} does not exist on the host`);
  for (const other of observed.records.filter((r) => r.id !== desired.id)) {
    if (typeOf(desired) === 'phys' && typeOf(other) === 'phys' && other.link === desired.link)
      throw new NameTakenError(`${desired.link} is already handed to the guest of ${guestLabel(other)}`);
    if (isBridged(desired) && other.hostIf === desired.hostIf)
      throw new NameTakenError(`${desired.hostIf} already belongs to the guest of ${guestLabel(other)}`);
  }
  if (typeOf(desired) === 'phys' && !existing && desired.link === uplink && options.force !== true) {
    throw new UsageError(
      `${desired.link} carries the host's default route; handing it over would cut the host off (--force to do it anyway)`,
    );
  }
  // Only hardware: detach must find the NIC again by what the guest cannot change (model/nic.ts).
  if (typeOf(desired) === 'phys' && !existing && options.notNic !== undefined)
    throw new UsageError(`--link ${desired.link} is not a NIC: ${options.notNic}; --type phys hands over hardware only`);
}

/** The ops that attach a guest of any type but the routed veth. */
export function planAttachTyped(
  observed: HostObserved,
  desired: AttachmentRecord,
  uplink: string | undefined,
  options: TypedOptions = {},
): SetupOp[] {
  const existing = observed.records.find((r) => r.id === desired.id);
  refuse(observed, desired, existing, uplink, options);
  // A record whose attach was cut short is completed where something is missing: a bridge
  // port not made, a NIC not yet handed over, a guest seen without its sublink or with its
  // loopback down. The guest's addresses and routes are the agent's to see.
  if (existing) {
    if (isSublink(existing) && options.guest?.ourLink === false) return [{ kind: 'createSublink', record: existing }];
    if (typeOf(existing) === 'empty' && options.guest?.loopbackUp === false) return [{ kind: 'setLoopbackUp', record: existing }];
    // The lock is made again with the port: it is one nft transaction that replaces whatever is there.
    if (isBridged(existing) && !observed.links.has(existing.hostIf))
      return [
        ...(guarded(existing) ? [{ kind: 'addPortGuard' as const, record: existing }] : []),
        { kind: 'createVeth', record: existing },
      ];
    // A NIC still on the host is handed over only if it is the recorded one (records of older versions know no identity).
    if (
      typeOf(existing) === 'phys' &&
      existing.link !== undefined &&
      observed.links.has(existing.link) &&
      observed.aliases.get(existing.link) !== existing.token &&
      (existing.phys?.nic === undefined || options.guest?.nicOnHost === true)
    )
      return [{ kind: 'movePhys', record: existing }];
    return [];
  }
  const ops: SetupOp[] = [{ kind: 'writeRecord', record: desired }];
  switch (typeOf(desired)) {
    case 'veth':
      if (observed.links.has(desired.hostIf))
        throw new NameTakenError(`a link named ${desired.hostIf} already exists and guestnet did not create it; choose another --host-if`);
      // The lock comes before the port exists: the guest never has a moment to send unchecked.
      return [
        ...ops,
        ...(guarded(desired) ? [{ kind: 'addPortGuard' as const, record: desired }] : []),
        { kind: 'createVeth', record: desired },
      ];
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
 * The ops that take a typed guest away; teardown mirrors setup. A phys
 * guest's NIC takes rounds (planReturnPhys): `nic` says where it is now.
 */
export function planDetachTyped(observed: HostObserved, record: AttachmentRecord, uplink: string | undefined, nic?: NicSeen): TeardownOp[] {
  if (typeOf(record) === 'phys') {
    if (!nic) throw new Error(`detaching ${guestLabel(record)} needs to know where its NIC is`);
    return planReturnPhys(observed, record, uplink, nic);
  }
  const ops: TeardownOp[] = [];
  if (isBridged(record) && observed.links.has(record.hostIf) && ownsLink(observed, record))
    ops.push({ kind: 'deleteLink', name: record.hostIf });
  if (guarded(record)) ops.push({ kind: 'removePortGuard', record });
  if (isSublink(record)) ops.push({ kind: 'deleteSublinks', record });
  if (observed.records.some((r) => r.id === record.id)) ops.push({ kind: 'deleteRecord', id: record.id });
  return ops;
}

/**
 * One round of taking a phys guest's NIC back, from where it is now. The
 * NIC is fetched from the guest under our passing name, and detach looks
 * again: only a link that is the NIC is then renamed and given its saved
 * addresses, MTU and state, and anything else that came is sent back.
 * While the NIC's name on the host belongs to another link (the uplink, in
 * a damaged record), nothing moves and nothing is restored, and the record
 * stays while the guest lives. The record goes with the round that restores
 * the NIC, or with its guest; a guest that lives without the NIC withholds
 * it, and keeps the record.
 */
export function planReturnPhys(observed: HostObserved, record: AttachmentRecord, uplink: string | undefined, nic: NicSeen): TeardownOp[] {
  const link = record.link as string;
  const forget: TeardownOp[] = observed.records.some((r) => r.id === record.id) ? [{ kind: 'deleteRecord', id: record.id }] : [];
  if (nic.impostor !== undefined) return [{ kind: 'sendBackPhys', record, name: nic.impostor, guestAlive: nic.guestAlive }];
  const found = nic.onHost ?? nic.inGuest;
  if (found === undefined) {
    if (!nic.guestAlive) return forget;
    throw new GuestWithholdsError(
      `NIC withheld by the guest: ${guestLabel(record)} has no link that is ${link}; ` +
        'the record is kept, and detach takes it back once the guest holds it again',
    );
  }
  const taken = (observed.links.has(link) && nic.onHost !== link) || link === uplink || nic.onHost === uplink;
  // A guest that is gone cannot hold its NIC, and nothing can be restored: the NIC stays where the kernel put it.
  if (taken && !nic.guestAlive) return forget;
  if (taken)
    throw new NameTakenError(
      `${link} is another link on the host now${link === uplink ? ' (the uplink)' : ''}: the NIC of ${guestLabel(record)} stays ` +
        `${nic.onHost === undefined ? 'in the guest' : `here as ${nic.onHost}`}, and the record is kept`,
    );
  return nic.onHost !== undefined
    ? [{ kind: 'restorePhys', record, name: nic.onHost }, ...forget]
    : [{ kind: 'fetchPhys', record, from: found }];
}

/**
 * The daemon's loop: a lock that someone removed while its port is still
 * there (a firewall reload that flushed every table) is made again. A DHCP
 * guest's learned addresses went with it; its next renewal teaches them again.
 */
export function planPortGuardRepair(observed: Pick<HostObserved, 'links' | 'records'>, tables: ReadonlySet<string>): SetupOp[] {
  return observed.records
    .filter((r) => guarded(r) && observed.links.has(r.hostIf) && !tables.has(portGuardTable(r)))
    .map((record) => ({ kind: 'addPortGuard', record }));
}
