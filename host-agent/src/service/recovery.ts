import { AgentError } from '@guestnet/protocol';
import { applySetup, applyTeardown, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import { firewallNamed } from '../firewall/select.js';
import { type AttachmentRecord, isRouted } from '../model/record.js';
import { inIpv6Chains } from '../model/rules.js';
import { bridgeTables, lookIntoGuest } from '../net/links.js';
import { observeHost } from '../observe.js';
import { planIpv6Follow } from '../plan/ipv6-follow.js';
import { planPortGuardRepair } from '../plan/link-types.js';
import { planReconcile } from '../plan/planner.js';
import { detachRecord, planAttach, planDetach } from '../drivers/index.js';
import { readIpForwardBefore } from '../state/records.js';
import type { RecordStore } from '../state/store.js';
import { guestAlive, netnsAt } from '../observe.js';

// Bringing the host back in line with its records: after a crash, when a
// guest's link goes away, and on every pass of the daemon's reconcile loop.
// Callers hold the state lock.

export interface Recovery {
  id: string;
  /** completed: a half-done attach finished; removed: a dead guest's traces; rolledBack: an attach whose caller was still waiting. */
  action: 'completed' | 'removed' | 'rolledBack';
  steps: OpTiming[];
}

type Hooks = Pick<ExecContext, 'afterSetupOp'>;

/**
 * Whether a record's guest still lives, checked as a fresh attach checks its
 * guest: a record whose netns is the host's own (hand-edited, or damaged)
 * describes no guest, and completing it would wire the host to itself.
 */
async function liveGuest(record: AttachmentRecord): Promise<boolean> {
  return (await guestAlive(record)) && record.netns !== (await netnsAt('/proc/self/ns/net'));
}

/**
 * Whether recovery completes the record rather than removing it: a live guest,
 * unless its attach's caller was still waiting for the guest when the agent
 * died (that caller was told it failed, so the attach is rolled back).
 */
async function toComplete(record: AttachmentRecord): Promise<boolean> {
  return !record.awaitingGuest && !record.undoing && (await liveGuest(record));
}

/**
 * Brings one guest's host side back in line with its record: a live guest's
 * missing pieces are re-added (a complete one plans to nothing, so its
 * traffic is never touched); a dead guest's every trace is removed.
 */
export async function reconcileGuest(id: string, store: RecordStore, runner: Runner, hooks: Hooks = {}): Promise<Recovery | undefined> {
  // A detach that just deleted the link also deleted the record: nothing to observe.
  const record = store.get(id);
  if (record === undefined) return undefined;
  const { stateDir } = store;
  const ctx: ExecContext = { ...hooks, firewall: firewallNamed(record.firewall), stateDir, records: store };
  const records = store.all();
  // A removal that failed part way is finished, never undone.
  if (record.undoing || !(await liveGuest(record))) {
    // Reaping looks only at what a detach looks at, so a burst of dying guests is reaped quickly.
    return { id: record.id, action: 'removed', steps: await detachRecord(record, records, runner, ctx) };
  }
  const observed = await observeHost(runner, stateDir, ctx.firewall, records);
  const ops = planAttach(observed, record, { guest: await lookIntoGuest(runner, record) });
  return ops.length === 0 ? undefined : { id: record.id, action: 'completed', steps: await applySetup(ops, runner, ctx) };
}

/** What a pass is told of a removal that failed again: its record stays, marked undoing, for the next pass. */
export type UndoFailed = (record: AttachmentRecord, error: Error) => void;

/** One pass of the daemon's reconcile loop (see planReconcile). Returns what it changed. */
export async function reconcileHost(store: RecordStore, runner: Runner, undoFailed: UndoFailed = () => {}): Promise<OpTiming[]> {
  const [first] = store.all();
  if (!first) return [];
  const { stateDir } = store;
  const ctx: ExecContext = { firewall: firewallNamed(first.firewall), stateDir, records: store };
  const finished = await finishUndoing(store, runner, ctx, undoFailed);
  // What is still being undone is no longer wanted: nothing of it is put back.
  const records = store.all().filter((r) => !r.undoing);
  if (records.length === 0) return finished;
  const observed = await observeHost(runner, stateDir, ctx.firewall, records);
  // Bridged guests' port locks are looked at only where there are some: one nft process a pass.
  const locks = records.some((r) => r.type === 'bridged-veth' && r.portSecurity)
    ? planPortGuardRepair(observed, await bridgeTables(runner))
    : [];
  const ops = [...planReconcile(observed), ...locks];
  const repaired = [...finished, ...(ops.length === 0 ? [] : await applySetup(ops, runner, ctx))];
  // IPv6 that came or went is planned from the host as those repairs left it: both may rewrite one record.
  const now =
    ops.length === 0
      ? observed
      : await observeHost(
          runner,
          stateDir,
          ctx.firewall,
          store.all().filter((r) => !r.undoing),
        );
  const planned = planIpv6Follow(now);
  // The first guest to gain IPv6 makes IPv6's chains: what is absent there is seen first, so that what
  // iptables-nft makes for them is marked, and goes with the last (firewall/iptables-made.ts). Rare: a deep look.
  const firstIn6 = planned.length > 0 && !now.records.some(inIpv6Chains);
  const followed = firstIn6 ? planIpv6Follow({ ...now, firewall: await ctx.firewall.observe(runner, true, true) }) : planned;
  return followed.length === 0 ? repaired : [...repaired, ...(await applySetup(followed, runner, ctx))];
}

/**
 * Removes what is left of each attachment whose removal failed part way (a
 * command that hung, say): a detach, which skips what is gone already. One
 * that fails again keeps its record for the next pass.
 */
async function finishUndoing(store: RecordStore, runner: Runner, ctx: ExecContext, undoFailed: UndoFailed): Promise<OpTiming[]> {
  const steps: OpTiming[] = [];
  for (const record of store.all().filter((r) => r.undoing)) {
    await detachRecord(record, store.all(), runner, ctx).then(
      (done) => steps.push(...done),
      (error: unknown) => undoFailed(record, error instanceof Error ? error : new Error(String(error))),
    );
  }
  return steps;
}

/**
 * After a crash: completes every live guest's half-done attach and removes
 * the dead guests. One deep look serves every complete guest; the host is
 * looked at again only after something changed.
 */
export async function recover(store: RecordStore, runner: Runner, hooks: Hooks = {}): Promise<Recovery[]> {
  const recoveries: Recovery[] = [];
  const records = store.all();
  const [first] = records;
  const { stateDir } = store;
  if (first) {
    const ctx: ExecContext = { ...hooks, firewall: firewallNamed(first.firewall), stateDir, records: store };
    let observed = await observeHost(runner, stateDir, ctx.firewall, store.all());
    for (const record of records) {
      const recovery = (await toComplete(record))
        ? await completed(record, planAttach(observed, record, { guest: await lookIntoGuest(runner, record) }))
        : await removed(record, observed.records);
      if (!recovery) continue;
      recoveries.push(recovery);
      observed = await observeHost(runner, stateDir, ctx.firewall, store.all());
    }
    async function completed(record: AttachmentRecord, ops: ReturnType<typeof planAttach>): Promise<Recovery | undefined> {
      return ops.length === 0 ? undefined : { id: record.id, action: 'completed', steps: await applySetup(ops, runner, ctx) };
    }
    // A phys guest that withholds its NIC, or whose NIC's name another link took, keeps its record for
    // a detach to report: one such guest must not keep the daemon from starting.
    async function removed(record: AttachmentRecord, all: readonly AttachmentRecord[]): Promise<Recovery | undefined> {
      const action = record.awaitingGuest || record.undoing ? ('rolledBack' as const) : ('removed' as const);
      if (isRouted(record)) return { id: record.id, action, steps: await applyTeardown(planDetach(observed, record), runner, ctx) };
      return detachRecord(record, all, runner, ctx).then(
        (steps) => ({ id: record.id, action, steps }),
        (error: unknown) => {
          if (error instanceof AgentError && (error.code === 'guestWithholds' || error.code === 'nameTaken')) return undefined;
          throw error;
        },
      );
    }
  }
  const before = await readIpForwardBefore(stateDir);
  if (store.size === 0 && before !== undefined) {
    const firewall = firewallNamed(first?.firewall ?? 'nftables');
    await applyTeardown([{ kind: 'restoreIpForward', value: before }], runner, { firewall, stateDir, records: store });
  }
  return recoveries;
}
