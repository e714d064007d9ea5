import { BadPidError, newOneTimeToken, newToken, ONE_TIME_NAME, oneTimeNameOf, UplinkNotFoundError } from '@guestnet/protocol';
import { applySetup, applyTeardown, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import { pathMtu, type Route } from '../model/host.js';
import { isRouted, typeOf } from '../model/link-type.js';
import { isNetdStyle, type PolicyState, uplinkTable } from '../model/policy.js';
import { parsePool } from '../model/pool.js';
import type { PortForward } from '../model/port-forward.js';
import type { AttachmentRecord, GuestIdentity } from '../model/record.js';
import { DEFAULT_GUEST_IF, type HostSettings } from '../model/settings.js';
import { hostPool6 } from '../net/ipv6.js';
import { guestReachableResolvers } from '../net/resolvers.js';
import { existingLinksWithAliases, observeHost, routesCovering } from '../observe.js';
import { allocate, guestMac, type Lease } from '../plan/lease.js';
import { chooseIpv6 } from '../plan/ipv6.js';
import { currentUplink, planAttach, planDetach, planDetachAll, planForward } from '../plan/planner.js';
import { uplinkProblem } from '../plan/uplink.js';
import { rotateToken } from './rotation.js';
import { detachTyped } from './typed-detach.js';

/** Ethernet's, when the uplink's MTU cannot be read. */
const DEFAULT_MTU = 1500;

// The host-side halves of attach, detach and forward: observe, plan, apply.
// Callers hold the state lock; AttachmentService is the one caller.

export interface AttachExtras {
  guestMac?: string;
  /** Replace a re-attached guest's forwards; unset, it keeps them. */
  forwards?: PortForward[];
  /**
   * The attach waits for the guest agent, which renames the link: a guest end of the default name is made under a
   * one-time name that is its token, which saves a process (steps.ts,
   * createVeth).
   */
  waitsForAgent?: boolean;
}

export interface HostSideResult {
  record: AttachmentRecord;
  /** Whether the record is new: this attach made the attachment rather than repairing one. */
  created: boolean;
  changed: boolean;
  steps: OpTiming[];
  /** A re-attach's new token for the guest's link. */
  rotation: OpTiming[];
}

/**
 * The record is written before the first change, through the store: the
 * daemon knows the token before the guest can read it from its link and say hello.
 */
export async function attachHostSide(
  guest: GuestIdentity,
  settings: HostSettings,
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
  extras: AttachExtras = {},
): Promise<HostSideResult> {
  const existing = records.find((r) => r.id === guest.id);
  // A re-attach compares against everything; a fresh attach looks only at
  // what its lease touches, probed while the rest is observed.
  const [observation, probed] = await Promise.all([
    observeHost(runner, settings.stateDir, ctx.firewall, records, existing ? undefined : { links: [], ipv6: settings.ipv6 !== 'off' }),
    existing ? undefined : probeLease(runner, records, settings, guest.id),
  ]);
  const lease = probed?.lease ?? allocate(observation, settings, guest.id);
  const uplink = settings.uplink ?? existing?.uplink ?? currentUplink(observation);
  if (uplink === undefined) throw new UplinkNotFoundError('no IPv4 default route to take the uplink from; give --uplink IF');
  const problem = uplinkProblem(uplink, records, { hostIf: lease.hostIf, hostIfPrefix: settings.hostIfPrefix });
  if (problem) throw new UplinkNotFoundError(problem);
  const observed = probed
    ? await withUplink({ ...observation, links: probed.links, routes: [...observation.routes, ...probed.routes] }, uplink)
    : observation;
  if (!observed.links.has(uplink)) throw new UplinkNotFoundError(`uplink ${uplink} does not exist on the host`);

  const policyTable = existing ? existing.policyTable : netdTable(observed.policy, uplink, settings.platform);
  const pool6 = existing ? '' : (settings.pool6 ?? (await hostPool6()));
  const ipv6 = existing ? existing.ipv6 : chooseIpv6(observed.ipv6, settings.ipv6, pool6, lease.guestAddress);
  // Only a guest agent can be told of IPv6 that comes later: a CNI container keeps what its ADD's result said.
  const follows = settings.ipv6 === 'auto' && guest.cni === undefined && isRouted(settings);
  const ipv6Auto = existing ? existing.ipv6Auto : follows ? { pool6 } : undefined;
  const oneTime = extras.waitsForAgent === true && settings.guestIf === DEFAULT_GUEST_IF;
  const token = existing?.token ?? (oneTime ? newOneTimeToken() : newToken());
  const desired: AttachmentRecord = {
    ...guest,
    hostIf: lease.hostIf,
    ...(existing ? { hostIfPrefix: existing.hostIfPrefix } : settings.hostIf === undefined ? { hostIfPrefix: settings.hostIfPrefix } : {}),
    // A guest end made under a one-time name keeps it in its record, through any rotation of its token.
    guestIf: existing && ONE_TIME_NAME.test(existing.guestIf) ? existing.guestIf : (oneTimeNameOf(token) ?? settings.guestIf),
    guestName: settings.guestName,
    hostAddress: settings.gateway,
    guestAddress: lease.guestAddress,
    prefixLength: parsePool(settings.pool).prefixLength,
    guestMac: extras.guestMac ?? guestMac(lease.guestAddress),
    mtu: settings.mtu ?? existing?.mtu ?? pathMtu(observed, uplink) ?? DEFAULT_MTU,
    ...(ipv6 ? { ipv6 } : {}),
    ...(ipv6Auto ? { ipv6Auto } : {}),
    ...(settings.mtu !== undefined || existing?.mtuPinned ? { mtuPinned: true as const } : {}),
    guestToGuest: settings.guestToGuest,
    uplink,
    ...(settings.uplink !== undefined || existing?.uplinkPinned ? { uplinkPinned: true as const } : {}),
    ...(policyTable === undefined ? {} : { policyTable }),
    dns: settings.dns ?? existing?.dns ?? (await guestReachableResolvers()),
    token,
    // A re-attach keeps its forwards unless the caller names others.
    forwards: extras.forwards ?? existing?.forwards ?? [],
    firewall: ctx.firewall.name,
    ...(existing && !existing.tagged ? {} : { tagged: true as const }),
  };
  const ops = planAttach(observed, desired);
  const steps = await applySetup(ops, runner, ctx);
  return {
    ...(await rotatedOnReattach(existing, desired, runner, ctx)),
    created: existing === undefined,
    changed: ops.length > 0,
    steps,
  };
}

/**
 * A re-attach gives the guest's link a new token (service/rotation.ts): what
 * a token that leaked was good for ends there. Not a change of the network:
 * `changed` does not count it, its steps are reported.
 */
export async function rotatedOnReattach(
  existing: AttachmentRecord | undefined,
  desired: AttachmentRecord,
  runner: Runner,
  ctx: ExecContext,
): Promise<{ record: AttachmentRecord; rotation: OpTiming[] }> {
  // The rotation rewrites the record as the attach's own ops left it (new forwards, say), not as it was found.
  const current = existing && ctx.records.get(existing.id);
  const rotation = current && (await rotateToken(current, runner, ctx));
  return { record: rotation ? { ...desired, token: rotation.token } : desired, rotation: rotation?.steps ?? [] };
}

/**
 * The next free lease, chosen from the records and then checked against the
 * host: a link of the host's own with that name, or a host route over that
 * address, sends it round again. Returns what it saw on the way.
 */
async function probeLease(
  runner: Runner,
  records: readonly AttachmentRecord[],
  settings: HostSettings,
  id: string,
): Promise<{ lease: Lease; links: Set<string>; routes: Route[] }> {
  const seen = { records, links: new Set<string>(), routes: [] as Route[] };
  let lease = allocate(seen, settings, id);
  for (let round = 0; round < 64; round++) {
    const [{ links }, routes] = await Promise.all([existingLinksWithAliases([lease.hostIf]), routesCovering(runner, lease.guestAddress)]);
    const newRoutes = routes.filter((r) => !seen.routes.some((o) => o.dst === r.dst && o.dev === r.dev));
    for (const link of links) seen.links.add(link);
    seen.routes.push(...newRoutes);
    const nameTaken = settings.hostIf === undefined && links.has(lease.hostIf);
    if (!nameTaken && newRoutes.length === 0) break;
    lease = allocate(seen, settings, id);
  }
  return { lease, links: seen.links, routes: seen.routes };
}

/** The uplink's table when guests must be routed the netd way: asked for with android, or seen under auto. */
function netdTable(policy: PolicyState, uplink: string, platform: HostSettings['platform']): number | undefined {
  if (platform === 'linux' || (platform === 'auto' && !isNetdStyle(policy))) return undefined;
  const table = uplinkTable(policy, uplink);
  if (table === undefined)
    throw new UplinkNotFoundError(`--platform android: no routing table but main holds a default route via ${uplink}`);
  return table;
}

export interface ForwardResult {
  id: string;
  forwards: PortForward[];
  changed: boolean;
}

export async function forwardHostSide(
  id: string,
  forward: PortForward,
  remove: boolean,
  runner: Runner,
  ctx: ExecContext,
): Promise<ForwardResult> {
  const observed = await observeHost(runner, ctx.stateDir, ctx.firewall, ctx.records.all());
  const record = observed.records.find((r) => r.id === id);
  if (!record) throw new BadPidError(`${/^\d+$/.test(id) ? `pid ${id}` : id} is not attached; attach it first`);
  const ops = planForward(observed, record, forward, remove);
  await applySetup(ops, runner, ctx);
  const update = ops.find((op) => op.kind === 'updateRecords');
  return { id, forwards: update?.kind === 'updateRecords' ? (update.after[0]?.forwards ?? []) : record.forwards, changed: ops.length > 0 };
}

export interface DetachResult {
  id: string;
  wasAttached: boolean;
  steps: OpTiming[];
}

export async function detachHostSide(
  record: AttachmentRecord,
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
): Promise<DetachResult> {
  if (!isRouted(record)) return { id: record.id, wasAttached: true, steps: await detachTyped(record, records, runner, ctx) };
  // Only this guest's link matters: removing its rules tolerates them being gone.
  const scope = { links: [record.hostIf], ipv6: record.ipv6 !== undefined };
  const observed = await observeHost(runner, ctx.stateDir, ctx.firewall, records, scope);
  const steps = await applyTeardown(planDetach(observed, record), runner, ctx);
  return { id: record.id, wasAttached: true, steps };
}

/**
 * Every guest at once; one deep look serves them all. Phys guests' NICs come
 * back one by one first; one withheld fails the whole, after all the rest.
 */
export async function detachAllHostSide(runner: Runner, ctx: ExecContext): Promise<{ ids: string[]; steps: OpTiming[] }> {
  const observed = await observeHost(runner, ctx.stateDir, ctx.firewall, ctx.records.all());
  if (observed.records.length === 0) return { ids: [], steps: [] };
  const steps: OpTiming[] = [];
  const failures: unknown[] = [];
  for (const record of observed.records.filter((r) => typeOf(r) === 'phys'))
    await detachTyped(record, observed.records, runner, ctx).then(
      (done) => steps.push(...done),
      (error: unknown) => failures.push(error),
    );
  await applyTeardown(planDetachAll(observed), runner, ctx).then(
    (done) => steps.push(...done),
    (error: unknown) => failures.push(error),
  );
  if (failures.length > 0) throw failures[0];
  return { ids: observed.records.map((r) => r.id), steps };
}

/** A narrow observation, plus the uplink: whether it exists, and its MTU. */
async function withUplink<T extends { links: ReadonlySet<string>; mtus: ReadonlyMap<string, number> }>(
  observed: T,
  uplink: string,
): Promise<T> {
  const seen = await existingLinksWithAliases([uplink]);
  return { ...observed, links: new Set([...observed.links, ...seen.links]), mtus: new Map([...observed.mtus, ...seen.mtus]) };
}
