import { randomBytes } from 'node:crypto';
import { access, stat } from 'node:fs/promises';
import { BadPidError, type Configure, TOKEN_PREFIX, UplinkNotFoundError } from '@guestnet/protocol';
import { type AppliedOp, applySetup, applyTeardown, rollBack } from './exec/apply.js';
import type { Runner } from './exec/runner.js';
import type { Firewall } from './firewall/firewall.js';
import type { FirewallName } from './firewall/names.js';
import { firewallNamed } from './firewall/select.js';
import { allocate, guestMac, type Lease, parsePool } from './lease.js';
import { guestReachableResolvers } from './net/resolvers.js';
import { existingLinks, observeHost, routesCovering } from './observe.js';
import type { OpContext } from './ops.js';
import { currentUplink, planAttach, planDetach, planForward, planReconcile, type Route } from './planner.js';
import { isNetdStyle, type PolicyState, uplinkTable } from './net/policy.js';
import type { Forward } from './forward.js';
import type { HostSettings, Platform } from './settings.js';
import { type AttachmentRecord, type GuestIdentity, readIpForwardBefore, readRecords, recordPath } from './state.js';

// The attach and detach cores shared by the one-shot CLI and the daemon.
// Callers hold the state lock.

export interface HostSideResult {
  record: AttachmentRecord;
  changed: boolean;
  steps: AppliedOp[];
  /** Undoes exactly what this call changed (nothing, if it changed nothing). */
  rollBack(cause: unknown): Promise<void>;
}

/**
 * `announce` hears the record before the first change: the daemon must know
 * the token before the guest can read it from its link and say hello.
 */
export async function attachHostSide(
  guest: GuestIdentity,
  settings: HostSettings,
  runner: Runner,
  firewall: Firewall,
  announce: (record: AttachmentRecord) => void = () => {},
): Promise<HostSideResult> {
  const records = await readRecords(settings.stateDir);
  const existing = records.find((r) => r.id === guest.id);
  // A re-attach compares against everything; a fresh attach looks only at
  // what its lease touches, probed while the rest is observed.
  const [observation, probed] = await Promise.all([
    observeHost(runner, settings.stateDir, firewall, existing ? undefined : { links: [], records }),
    existing ? undefined : probeLease(runner, records, settings, guest.id),
  ]);
  const lease = probed?.lease ?? allocate(observation, settings, guest.id);
  const uplink = settings.uplink ?? existing?.uplink ?? currentUplink(observation);
  if (uplink === undefined) throw new UplinkNotFoundError('no IPv4 default route to take the uplink from; give --uplink IF');
  const observed = probed
    ? { ...observation, links: new Set([...probed.links, ...(await existingLinks([uplink]))]), routes: [...observation.routes, ...probed.routes] }
    : observation;
  if (!observed.links.has(uplink)) throw new UplinkNotFoundError(`uplink ${uplink} does not exist on the host`);

  const policyTable = existing ? existing.policyTable : netdTable(observed.policy, uplink, settings.platform);
  const desired: AttachmentRecord = {
    ...guest,
    hostIf: lease.hostIf,
    ...(existing ? { hostIfPrefix: existing.hostIfPrefix } : settings.hostIf === undefined ? { hostIfPrefix: settings.hostIfPrefix } : {}),
    guestIf: settings.guestIf,
    guestName: settings.guestName,
    hostAddress: settings.gateway,
    guestAddress: lease.guestAddress,
    prefixLength: parsePool(settings.pool).prefixLength,
    guestMac: guestMac(lease.guestAddress),
    mtu: settings.mtu,
    guestToGuest: settings.guestToGuest,
    uplink,
    ...(settings.uplink !== undefined || existing?.uplinkPinned ? { uplinkPinned: true as const } : {}),
    ...(policyTable === undefined ? {} : { policyTable }),
    dns: settings.dns ?? existing?.dns ?? (await guestReachableResolvers()),
    token: existing?.token ?? `${TOKEN_PREFIX}${randomBytes(16).toString('hex')}`,
    forwards: existing?.forwards ?? [],
    firewall: firewall.name as FirewallName,
  };
  const ops = planAttach(observed, desired);
  const ctx: OpContext = { firewall, stateDir: settings.stateDir };
  announce(desired);
  const steps = await applySetup(ops, runner, ctx);
  return { record: desired, changed: ops.length > 0, steps, rollBack: (cause) => rollBack(ops, runner, ctx, cause) };
}

/**
 * The next free lease, chosen from the records and then checked against the
 * host: a link of the host's own with that name, or a host route over that
 * address, sends it round again. Returns what it saw on the way.
 */
async function probeLease(runner: Runner, records: readonly AttachmentRecord[], settings: HostSettings, id: string): Promise<{ lease: Lease; links: Set<string>; routes: Route[] }> {
  const seen = { records, links: new Set<string>(), routes: [] as Route[] };
  let lease = allocate(seen, settings, id);
  for (let round = 0; round < 64; round++) {
    const [links, routes] = await Promise.all([existingLinks([lease.hostIf]), routesCovering(runner, lease.guestAddress)]);
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
function netdTable(policy: PolicyState, uplink: string, platform: Platform): number | undefined {
  if (platform === 'linux' || (platform === 'auto' && !isNetdStyle(policy))) return undefined;
  const table = uplinkTable(policy, uplink);
  if (table === undefined) throw new UplinkNotFoundError(`--platform android: no routing table but main holds a default route via ${uplink}`);
  return table;
}

export interface ForwardResult {
  id: string;
  forwards: Forward[];
  changed: boolean;
}

export async function forwardHostSide(id: string, forward: Forward, remove: boolean, stateDir: string, runner: Runner, firewall: Firewall): Promise<ForwardResult> {
  const observed = await observeHost(runner, stateDir, firewall);
  const record = observed.records.find((r) => r.id === id);
  if (!record) throw new BadPidError(`${/^\d+$/.test(id) ? `pid ${id}` : id} is not attached; attach it first`);
  const ops = planForward(observed, record, forward, remove);
  await applySetup(ops, runner, { firewall, stateDir });
  const last = ops.at(-1);
  return { id, forwards: last?.kind === 'setForwards' ? last.record.forwards : record.forwards, changed: ops.length > 0 };
}

export interface DetachResult {
  id: string;
  wasAttached: boolean;
  steps: AppliedOp[];
}

export async function detachHostSide(id: string, stateDir: string, runner: Runner, firewall: Firewall): Promise<DetachResult> {
  const records = await readRecords(stateDir);
  const record = records.find((r) => r.id === id);
  if (!record) return { id, wasAttached: false, steps: [] };
  // Only this guest's link matters: removing its rules tolerates them being gone.
  const observed = await observeHost(runner, stateDir, firewall, { links: [record.hostIf], records });
  const steps = await applyTeardown(planDetach(observed, record), runner, { firewall, stateDir });
  return { id, wasAttached: true, steps };
}

/** The netns at `path` as net:[inode], the form /proc/<pid>/ns/net links to; undefined if it is gone. */
export async function netnsAt(path: string): Promise<string | undefined> {
  return stat(path).then(
    (s) => `net:[${s.ino}]`,
    () => undefined,
  );
}

/** Whether the guest a record describes still lives: the same netns at its path (a reused pid has another). */
export async function guestAlive(record: AttachmentRecord): Promise<boolean> {
  return (await netnsAt(record.netnsPath)) === record.netns;
}

export interface Recovery {
  id: string;
  action: 'completed' | 'removed';
  steps: AppliedOp[];
}

/**
 * Brings one guest's host side back in line with its record: a live guest's
 * missing pieces are re-added (a complete one plans to nothing, so its
 * traffic is never touched); a dead guest's every trace is removed.
 */
export async function reconcileGuest(record: AttachmentRecord, stateDir: string, runner: Runner): Promise<Recovery | undefined> {
  // A detach that just deleted the link also deleted the record: nothing to observe.
  if (!(await access(recordPath(stateDir, record.id)).then(() => true, () => false))) return undefined;
  const firewall = firewallNamed(record.firewall);
  const observed = await observeHost(runner, stateDir, firewall);
  if (!observed.records.some((r) => r.id === record.id)) return undefined;
  const ctx: OpContext = { firewall, stateDir };
  if (await guestAlive(record)) {
    const ops = planAttach(observed, record);
    return ops.length === 0 ? undefined : { id: record.id, action: 'completed', steps: await applySetup(ops, runner, ctx) };
  }
  return { id: record.id, action: 'removed', steps: await applyTeardown(planDetach(observed, record), runner, ctx) };
}

/** One pass of the daemon's reconcile loop (see planReconcile). Returns what it changed. */
export async function reconcileHost(stateDir: string, runner: Runner): Promise<AppliedOp[]> {
  const records = await readRecords(stateDir);
  const [first] = records;
  if (!first) return [];
  const firewall = firewallNamed(first.firewall);
  const ops = planReconcile(await observeHost(runner, stateDir, firewall));
  return ops.length === 0 ? [] : applySetup(ops, runner, { firewall, stateDir });
}

/** After a crash: completes every live guest's half-done attach and removes the dead guests. */
export async function recover(stateDir: string, runner: Runner): Promise<Recovery[]> {
  const recoveries: Recovery[] = [];
  const records = await readRecords(stateDir);
  for (const record of records) {
    const recovery = await reconcileGuest(record, stateDir, runner);
    if (recovery) recoveries.push(recovery);
  }
  const before = await readIpForwardBefore(stateDir);
  if ((await readRecords(stateDir)).length === 0 && before !== undefined) {
    const firewall = firewallNamed(records[0]?.firewall ?? 'nftables');
    await applyTeardown([{ kind: 'restoreIpForward', value: before }], runner, { firewall, stateDir });
  }
  return recoveries;
}

export function configureMessage(record: AttachmentRecord): Configure {
  return {
    type: 'configure',
    token: record.token,
    link: {
      name: record.guestIf,
      rename: record.guestName,
      mtu: record.mtu,
      address: record.guestAddress,
      prefixLength: record.prefixLength,
      gateway: record.hostAddress,
    },
    dns: record.dns,
  };
}
