import { newOneTimeToken, newToken, ONE_TIME_NAME, oneTimeNameOf, UsageError } from '@guestnet/protocol';
import { applyTeardown, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import type { HostObserved } from '../model/host.js';
import { describeType, type RecordType } from '../model/link-type.js';
import { parsePool } from '../model/pool.js';
import { type AttachmentRecord, guestLabel, type JoinedLink, type LinkedRecord, type RecordBase } from '../model/record.js';
import { DEFAULT_GUEST_IF, type HostSettings } from '../model/settings.js';
import { guestReachableResolvers } from '../net/resolvers.js';
import { observeHost, type Scope } from '../observe.js';
import { allocate, guestMac } from '../plan/lease.js';
import type { TeardownOp } from '../plan/ops.js';
import type { AttachInput } from './driver.js';

// What the types other than the routed veth share. They forward, NAT and
// firewall nothing: the guest joins a network that exists (a bridge, a
// parent's LAN, a NIC's), so their addresses come from that network's pool
// and host routes into it are expected, not clashes.

/** The link the settings name: --type phys, macvlan, ipvlan, vlan and a bridged veth need one (settings.ts checks). */
export function linkOf(settings: HostSettings): string {
  if (settings.link === undefined) throw new UsageError(`--type ${settings.type} needs --link`);
  return settings.link;
}

/** The guest's record, when it is of `type`: a record of another type is refused by the plan, not reused. */
export const sameType = <R extends AttachmentRecord>(input: AttachInput, type: RecordType): R | undefined =>
  input.existing?.type === type ? (input.existing as R) : undefined;

/** A look at the records and no link, and not at the firewall: empty and none have neither a link on the host nor rules. */
export const observeRecords = (input: AttachInput): Promise<HostObserved> =>
  observeHost(input.runner, input.settings.stateDir, input.ctx.firewall, input.records, { links: [], firewall: false });

/**
 * A look at the link the guest's is made from or is, with the records: a
 * sublink or a NIC needs no other link, and no look at the firewall, since
 * these types have no rules. In a daemon the rest of such a look comes from memory.
 */
export const observeParent = (input: AttachInput): Promise<HostObserved> =>
  observeHost(input.runner, input.settings.stateDir, input.ctx.firewall, input.records, {
    links: [linkOf(input.settings)],
    firewall: false,
  });

/**
 * The fields of every record: who the guest is, its token (kept by a
 * re-attach), its backend, the tag. `arrives`: the type moves a whole link
 * into the guest, which for a waiting agent that renames it arrives under a
 * one-time name, its token (as the routed veth's does), so the agent, woken
 * by its arrival, knows it for its own without a look.
 */
export function baseOf(input: AttachInput, arrives = false): RecordBase {
  const oneTime = arrives && input.extras.waitsForAgent === true && input.settings.guestIf === DEFAULT_GUEST_IF;
  const token = input.existing?.token ?? (oneTime ? newOneTimeToken() : newToken());
  return { ...input.guest, token, firewall: input.ctx.firewall.name, tagged: true };
}

/** The name the guest's link arrives under: its one-time name when its token is one; a re-attach keeps its own. */
const arrivalName = (input: AttachInput, existing: LinkedRecord | undefined, token: string | undefined): string =>
  existing && ONE_TIME_NAME.test(existing.guestIf)
    ? existing.guestIf
    : ((token === undefined ? undefined : oneTimeNameOf(token)) ?? input.settings.guestIf);

/**
 * A guest link on a network that exists: its address from the pool (kept by a
 * re-attach) or the network's DHCP; `token`: the record's, where its link arrives whole.
 */
export async function joinedLinkOf(
  input: AttachInput,
  observed: HostObserved,
  existing: LinkedRecord | undefined,
  mtu: number | undefined,
  token?: string,
): Promise<{ fields: JoinedLink; leasedHostIf: string | undefined }> {
  const { settings, guest, extras } = input;
  const lease = settings.dhcp ? undefined : allocate({ ...observed, routes: [] }, settings, guest.id);
  const guestAddress = existing?.guestAddress ?? lease?.guestAddress;
  const link = {
    guestIf: arrivalName(input, existing, token),
    guestName: settings.guestName,
    guestMac: extras.guestMac ?? guestMac(guestAddress),
    mtu: settings.mtu ?? mtu ?? (settings.link === undefined ? undefined : observed.mtus.get(settings.link)) ?? 1500,
  };
  if (settings.dhcp || guestAddress === undefined)
    // A DHCP guest takes the lease's resolvers unless --dns pins some.
    return { fields: { ...link, dhcp: true as const, dns: settings.dns ?? [] }, leasedHostIf: undefined };
  const dns = settings.dns ?? existing?.dns ?? (await guestReachableResolvers());
  const addresses = { hostAddress: settings.gateway, guestAddress, prefixLength: parsePool(settings.pool).prefixLength };
  return { fields: { ...link, ...addresses, dns }, leasedHostIf: lease?.hostIf };
}

/** What refuses an attach of any of these types: another type or link already, or a link the host lacks. */
export function refuseJoined(
  observed: HostObserved,
  desired: AttachmentRecord & { link?: string },
  existing: (AttachmentRecord & { link?: string }) | undefined,
): void {
  if (existing && (existing.type !== desired.type || existing.link !== desired.link))
    throw new UsageError(`${guestLabel(desired)} is already attached as ${describeType(existing)}; detach it first`);
  if (desired.link !== undefined && !observed.links.has(desired.link) && !existing)
    throw new UsageError(`--link ${desired.link} does not exist on the host`);
}

/** The guest's record goes last: whatever else remains, detach can find it until then. */
export const forgetting = (observed: HostObserved, record: AttachmentRecord): TeardownOp[] =>
  observed.records.some((r) => r.id === record.id) ? [{ kind: 'deleteRecord', id: record.id }] : [];

/** A detach that needs one look at `scope` (observeHost), then one teardown. */
export async function detachOnce<R extends AttachmentRecord>(
  record: R,
  scope: Scope,
  plan: (observed: HostObserved, record: R) => TeardownOp[],
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
): Promise<OpTiming[]> {
  const observed = await observeHost(runner, ctx.stateDir, ctx.firewall, records, scope);
  return applyTeardown(plan(observed, record), runner, ctx);
}
