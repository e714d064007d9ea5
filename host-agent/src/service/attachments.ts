import { applySetup, type ExecContext, type OpTiming } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import type { Firewall } from '../firewall/firewall.js';
import { firewallFor } from '../firewall/select.js';
import type { FirewallChoice, FirewallName } from '../model/names.js';
import type { PortForward } from '../model/port-forward.js';
import { type AttachmentRecord, type GuestIdentity, hasGuestLink } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { BASE_TOOLS, requireTools } from '../net/tools.js';
import { withStateLock } from '../state/lock.js';
import { RecordStore } from '../state/store.js';
import { hasGuestLinkType, recordTypeOf } from '../model/link-type.js';
import { reconcileGuest, reconcileHost, type Recovery, recover, type UndoFailed } from './recovery.js';
import { rotateToken } from './rotation.js';
import { attachGroupHostSide, detachGroupHostSide, type Joined, settleGroupHostSide } from './host-group.js';
import { GroupCommit, settledOne } from './group-commit.js';
import {
  type AttachExtras,
  attachHostSide,
  type HostSideResult,
  detachAllHostSide,
  type DetachResult,
  detachHostSide,
  type ForwardResult,
  forwardHostSide,
} from './host-side.js';

export type { DetachResult, ForwardResult } from './host-side.js';

export interface AttachRequest<G> {
  guest: GuestIdentity;
  settings: HostSettings;
  /**
   * The guest's side, run once the host side is in place and the lock is
   * released (waiting for a guest agent must not stall other attaches). When
   * it fails, what this attach added is removed, if it is still ours.
   */
  guestSide?: (record: AttachmentRecord) => Promise<G>;
  /** What a new attachment starts with besides its settings: a runtime's requested MAC and published ports. */
  extras?: AttachExtras;
}

/** An attach's host side, done: what finishAttach goes on from. */
export interface HostDone extends HostSideResult {
  /** Whether its record says it waits for its guest agent, until finishAttach settles it. */
  marked: boolean;
}

const fulfilled = <T>(value: T): PromiseSettledResult<T> => ({ status: 'fulfilled', value });
const rejected = <T>(reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason });

export interface Attached<G> extends Pick<HostSideResult, 'record' | 'created' | 'pairMade' | 'changed'> {
  firewall: FirewallName;
  steps: OpTiming[];
  /** What guestSide returned; undefined when there was none. */
  guest: G | undefined;
}

/**
 * The one owner of attach, detach and forward, and of the records: the CLI,
 * the daemon and the CNI plugin adapt it. Each change takes the state lock,
 * brings the record store in line with the state dir, checks the tools of
 * the firewall backend in use, and leaves nothing behind when it fails.
 */
export class AttachmentService {
  /** The records, written through as ops change them; the daemon asks it, and hears its changes. */
  readonly records: RecordStore;
  /** Records stop waiting by group commit: those whose guest sides end during a settle settle next, under one lock, in one op. */
  private readonly settles = new GroupCommit<AttachmentRecord, void>((records) =>
    // A group that cannot take the lock (a member's backend no longer the one in use, say): each member under its own.
    this.settleTogether(records).catch(() =>
      Promise.all(records.map((r) => this.settleTogether([r]).then(([one]) => one as PromiseSettledResult<void>, rejected<void>))),
    ),
  );

  constructor(
    readonly stateDir: string,
    private readonly runner: Runner,
    private readonly hooks: Pick<ExecContext, 'afterSetupOp'> = {},
  ) {
    this.records = new RecordStore(stateDir);
  }

  async attach<G>(request: AttachRequest<G>): Promise<Attached<G>> {
    const host = await this.locked(request.settings.firewall, (_, ctx) => this.hostSide(request, ctx));
    return this.finishAttach(request, host);
  }

  /**
   * The host sides of attaches that arrived together, under one lock: new
   * routed guests among them are planned and applied as one group
   * (host-group.ts); the others, and every member when the group's plan
   * failed, go one by one. Each settles on its own; each that succeeded
   * goes on with finishAttach.
   */
  async attachHostSides(requests: readonly AttachRequest<unknown>[]): Promise<Array<PromiseSettledResult<HostDone>>> {
    const choice = requests[0]?.settings.firewall;
    // Members of another firewall choice go alone, under a lock of their own that decides it.
    const together = requests.filter((r) => r.settings.firewall === choice);
    const grouped = await this.locked(choice ?? 'auto', async (records, ctx) => {
      const members = together.map((request) => ({ ...request, extras: this.extrasOf(request) }));
      // One alone plans once, as a single attach does: no look on the host twice.
      const joined =
        members.length < 2
          ? []
          : await attachGroupHostSide(members, records, this.runner, ctx).catch(() => [] as Array<Joined | undefined>);
      const settled: Array<PromiseSettledResult<HostDone>> = [];
      for (const [i, request] of together.entries()) {
        const done = joined[i];
        settled.push(
          await (done
            ? Promise.resolve({ ...done, created: true, pairMade: true, changed: true, rotation: [] })
            : this.hostSide(request, ctx)
          ).then(fulfilled<HostDone>, rejected<HostDone>),
        );
      }
      return new Map(together.map((request, i) => [request, settled[i] as PromiseSettledResult<HostDone>]));
    });
    return Promise.all(
      requests.map(
        (request) =>
          grouped.get(request) ??
          this.locked(request.settings.firewall, (_, ctx) => this.hostSide(request, ctx)).then(fulfilled<HostDone>, rejected<HostDone>),
      ),
    );
  }

  /** An attach after its host side: its guest side, then its record settles, or what it made goes again. */
  async finishAttach<G>(request: AttachRequest<G>, host: HostDone): Promise<Attached<G>> {
    const attached = {
      record: host.record,
      firewall: host.record.firewall,
      changed: host.changed,
      created: host.created,
      pairMade: host.pairMade,
      steps: [...host.steps, ...host.rotation],
    };
    if (!request.guestSide || !hasGuestLink(host.record)) return { ...attached, guest: undefined };
    try {
      const guest = await request.guestSide(host.record);
      if (host.marked) await settledOne((await this.settles.submit([host.record]))[0]);
      return { ...attached, guest };
    } catch (error) {
      // A re-attach that fails leaves the attachment it found; a new one is taken away again.
      if (host.created) await this.undoAttach(host.record, error);
      throw error;
    }
  }

  /** Settles `records` under one lock, taken with their own backend: nothing to detect. */
  private settleTogether(records: readonly AttachmentRecord[]): Promise<Array<PromiseSettledResult<void>>> {
    return this.locked(records[0]?.firewall ?? 'auto', (_, ctx) => settleGroupHostSide(records, this.runner, ctx));
  }

  /** empty and none give the guest no link, and a guest with no agent has none: there is no agent to wait for. */
  private extrasOf(request: AttachRequest<unknown>): AttachExtras {
    const waits =
      request.extras?.waitsForAgent === true &&
      request.guestSide !== undefined &&
      hasGuestLinkType(recordTypeOf(request.settings)) &&
      request.settings.guestConfig === 'agent';
    return { ...request.extras, waitsForAgent: waits };
  }

  /** One attach's host side; the caller holds the lock. */
  private async hostSide(request: AttachRequest<unknown>, ctx: ExecContext): Promise<HostDone> {
    const { settings } = request;
    const extras = this.extrasOf(request);
    // What a removal left part way is removed first: this attach makes a new attachment, it does not repair that one.
    const leftover = ctx.records.get(request.guest.id);
    if (leftover?.undoing) await detachHostSide(leftover, ctx.records.all(), this.runner, ctx);
    const made = await attachHostSide(request.guest, { ...settings, stateDir: this.stateDir }, ctx.records.all(), this.runner, ctx, extras);
    // A new attachment that waits says so once its host side is in place: a
    // restart before then completes the attach, one after rolls it back.
    const marked = extras.waitsForAgent === true && made.created;
    if (marked)
      await applySetup(
        [{ kind: 'updateRecords', before: [made.record], after: [{ ...made.record, awaitingGuest: true }] }],
        this.runner,
        ctx,
      );
    return { ...made, marked };
  }

  /**
   * Removes the attachment `record` made, judged against the state as it is
   * now: if the guest was detached and attached again meanwhile, its record
   * carries another token and nothing happens; pieces other guests still use
   * (ip_forward, the firewall base) stay.
   */
  async undoAttach(record: AttachmentRecord, cause: unknown): Promise<void> {
    try {
      await this.locked('auto', async (records, ctx) => {
        const current = records.find((r) => r.id === record.id);
        if (current?.token === record.token) await detachHostSide(current, records, this.runner, ctx);
      });
    } catch (failure) {
      if (cause instanceof Error) cause.message += `; rolling back also failed: ${(failure as Error).message}`;
    }
  }

  /**
   * Gives the guest of `record` a new token (service/rotation.ts), if
   * `record` is still its attachment; the store has it before the guest's
   * link shows it. Not while an attach waits for that guest: its record is
   * that attach's until it settles. Resolves to the new record, or undefined
   * when nothing was rotated. `confirmedName`: see rotateToken.
   */
  async rotate(record: AttachmentRecord, confirmedName?: string): Promise<AttachmentRecord | undefined> {
    return this.locked(record.firewall, async (records, ctx) => {
      const current = records.find((r) => r.id === record.id);
      if (current?.token !== record.token || current.awaitingGuest) return undefined;
      const rotation = await rotateToken(current, this.runner, ctx, confirmedName);
      return rotation && { ...current, token: rotation.token };
    });
  }

  /** Removes what attach added; the guest may be gone already, and anything missing is skipped. */
  async detach(id: string): Promise<DetachResult> {
    return this.locked('auto', async (records, ctx) => {
      const record = records.find((r) => r.id === id);
      return record ? detachHostSide(record, records, this.runner, ctx) : { id, wasAttached: false, steps: [] };
    });
  }

  /**
   * Detaches that arrived together (the daemon's group commit), each with its
   * own result: the routed guests among them go as one (host-group.ts); when
   * that fails, or for the other types, each goes alone.
   */
  async detachMany(ids: readonly string[]): Promise<Array<PromiseSettledResult<DetachResult>>> {
    return this.locked('auto', async (records, ctx) => {
      const leaving = records.filter((r) => ids.includes(r.id));
      const grouped = await detachGroupHostSide(leaving, records, this.runner, ctx).catch(() => undefined);
      const results: Array<PromiseSettledResult<DetachResult>> = [];
      const told = new Set<string>();
      for (const id of ids) {
        // The same guest named twice: the first is told it was detached, the next that it was not attached, as in turn.
        const first = !told.has(id);
        told.add(id);
        if (first && grouped?.ids.includes(id)) {
          results.push(fulfilled({ id, wasAttached: true, steps: grouped.steps }));
          continue;
        }
        const record = ctx.records.get(id);
        const alone = record ? detachHostSide(record, ctx.records.all(), this.runner, ctx) : { id, wasAttached: false, steps: [] };
        results.push(await Promise.resolve(alone).then(fulfilled<DetachResult>, rejected<DetachResult>));
      }
      return results;
    });
  }

  /** Removes every guest, in a few processes however many there are: for a launcher shutting down. */
  async detachAll(): Promise<{ ids: string[]; steps: OpTiming[] }> {
    return this.locked('auto', (_, ctx) => detachAllHostSide(this.runner, ctx));
  }

  async forward(id: string, forward: PortForward, remove: boolean): Promise<ForwardResult> {
    return this.locked('auto', (_, ctx) => forwardHostSide(id, forward, remove, this.runner, ctx));
  }

  /** After a crash: completes live guests' half-done attaches and removes the dead guests (service/recovery.ts). */
  async recover(runner: Runner = this.runner): Promise<Recovery[]> {
    return this.inspect((store) => recover(store, runner, this.hooks));
  }

  /** Brings one guest's host side back in line with its record: a dead guest is reaped, a live one's missing pieces made again. */
  async reconcileGuest(id: string, runner: Runner = this.runner): Promise<Recovery | undefined> {
    return this.inspect((store) => reconcileGuest(id, store, runner, this.hooks));
  }

  /** One pass of the daemon's reconcile loop: what others changed is put back. */
  async reconcileHost(runner: Runner = this.runner, undoFailed?: UndoFailed): Promise<OpTiming[]> {
    return this.inspect((store) => reconcileHost(store, runner, undoFailed));
  }

  /** Runs `work` under the lock with the records as they are now: the store, revalidated. */
  async inspect<T>(work: (records: RecordStore) => Promise<T>): Promise<T> {
    return withStateLock(this.stateDir, async () => {
      await this.records.revalidate();
      return work(this.records);
    });
  }

  /** Runs `work` under the lock with the records and the firewall backend they use (or `choice` when there are none). */
  private async locked<T>(
    choice: FirewallChoice,
    work: (records: readonly AttachmentRecord[], ctx: ExecContext) => Promise<T>,
  ): Promise<T> {
    await requireTools(BASE_TOOLS);
    return this.inspect(async (store) => {
      const records = store.all();
      const firewall: Firewall = await firewallFor(choice, records, this.runner);
      await requireTools([firewall.tool]);
      return work(records, { ...this.hooks, firewall, stateDir: this.stateDir, records: store });
    });
  }
}
