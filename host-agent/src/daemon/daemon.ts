import type { Level } from '../log.js';
import { statePaths } from '../model/paths.js';
import type { HostSettings } from '../model/settings.js';
import { type AttachRequest, AttachmentService, type DetachResult, type HostDone } from '../service/attachments.js';
import { processGuest } from '../service/preflight.js';
import { guestAlive } from '../observe.js';
import { attachResult, detachResultFor } from '../service/results.js';
import { collectStatus } from '../service/status.js';
import { resolveSettings } from '../settings.js';
import { ensurePrivateDir } from '../state/dir.js';
import { withStateLock } from '../state/lock.js';
import { type ControlRequest, controlSocketPath, memberResult, serveControl } from './control.js';
import { GroupCommit, settledOne } from '../service/group-commit.js';
import { serveCni } from './cni.js';
import { loggedRequests, logGuestReconciled, logReconciled, logRecovered, logUndoFailed } from './events.js';
import { GuestServer, guestConfigChanged } from './guests.js';
import { BoundSockets, Holdings, ownPidFile } from './lifecycle.js';
import { guestSocketWarnings } from './rate-limit.js';
import { SourceBudget } from '../guest-link/budget.js';
import { confirmedLinkName } from '../guest-link/exchange.js';
import { LeakResponse } from './rotations.js';
import { HostMemory } from './memory.js';
import { mayMoveIpv6 } from '../plan/ipv6-follow.js';
import { type HostWatch, watchHost } from './monitor.js';
import { type DaemonHost, type DaemonOptions, thisHost } from './host.js';
import { NETD_DNS_SOCKET } from '../dns/netd.js';
import { GuestServices } from './guest-services.js';
import { daemonGuestSide, guestViewOf } from './guest-side.js';
import { recordTypeOf } from '../model/link-type.js';
import { type AttachmentRecord, hasHostEnd, isRouted } from '../model/record.js';

// Within the 2 s a user notices: how soon rules a firewall reload flushed are back.
const RECONCILE_MS = 1000;
// Passes that host events start (a moved route, an uplink's MTU or IPv6 address): a few at once, then one a second,
// the last of a flood run when it is over. Anyone may cause such events: a LAN host's router advertisements.
const EVENT_PASSES = { burst: 3, perSecond: 1 };

export type DaemonLog = (level: Level, message: string, meta?: Record<string, unknown>) => void;
type EachSettled = Array<PromiseSettledResult<unknown>>;

/**
 * `host-agent serve`: the single writer of one state dir. Attach, detach and
 * status requests arrive on the control socket and go through the attachment
 * service; guest agents stay connected on the guest socket; link-deletion
 * events reap dead guests; a reconcile loop keeps the rules and uplink right.
 */
export class Daemon {
  /** Remembers what it reads of the host; attaches plan from it, the checking loop reads only the firewall. */
  private readonly runner: HostMemory;
  private readonly host: DaemonHost;
  private readonly service: AttachmentService;
  /** Host sides of attaches that arrive while others are under way are planned and applied together. */
  private readonly attaches: GroupCommit<AttachRequest<unknown>, HostDone>;
  /** And so are detaches, each keeping its own result. */
  private readonly detaches: GroupCommit<string, DetachResult>;
  private readonly guests: GuestServer;
  private readonly leaks: LeakResponse;
  /** The DNS forwarder, DHCP and radvd, following the record store. */
  private readonly served: GuestServices;
  private monitor: HostWatch | undefined;
  private reconciling = false;
  private readonly eventPasses = new SourceBudget(EVENT_PASSES.burst, EVENT_PASSES.perSecond);
  private eventPassTimer: NodeJS.Timeout | undefined;
  /** The last reconcile failure logged: the loop runs every second, and one line per cause is enough. */
  private lastFailure: string | undefined;
  private readonly undoFailed: ReturnType<typeof logUndoFailed>;
  private readonly holdings = new Holdings();
  private readonly sockets = new BoundSockets();
  /** Settles when the daemon cannot serve whole any more (a socket of its own is gone); serve stops it then. */
  readonly failed: Promise<Error> = this.sockets.lost;

  constructor(
    private readonly settings: HostSettings,
    private readonly log: DaemonLog,
    { hooks = {}, netdSocket = NETD_DNS_SOCKET, host = thisHost(settings.commandTimeout) }: DaemonOptions = {},
  ) {
    this.host = host;
    this.runner = new HostMemory(host.runner, () => this.monitor?.running === true);
    this.service = new AttachmentService(settings.stateDir, this.runner, hooks);
    this.undoFailed = logUndoFailed(log);
    const { records } = this.service;
    this.attaches = new GroupCommit((requests) => this.service.attachHostSides(requests));
    this.detaches = new GroupCommit((ids) => this.service.detachMany(ids));
    // A token proved from another netns, or a first name the kernel logged, has leaked: the guest's link gets a new one.
    this.leaks = new LeakResponse((record, confirmedName) => this.service.rotate(record, confirmedName), log, this.runner);
    this.guests = new GuestServer(settings.socket, {
      // The store has a record from its first write, before the guest's link exists: a hello never comes first.
      lookup: (linkIds) => linkIds.map((id) => records.withLinkId(id)).find((r) => r !== undefined),
      attachments: () => records.all(),
      ...guestSocketWarnings(log),
      onForeign: (record, refusal) => this.leaks.refused(record, refusal),
      onConfigured: (record, confirmation) => this.leaks.configured(records.get(record.id), confirmation.state.name),
    });
    this.served = new GuestServices(records, settings.stateDir, log, netdSocket);
    // A guest detached, reaped or rolled back: its session ends, whoever removed it.
    records.onChange(({ id, after }) => after === undefined && this.guests.forget(id));
  }

  /** Serves until stop(); a start that fails has let go of all it took, its pid file included. */
  async start(): Promise<void> {
    try {
      await this.serveAll();
    } catch (error) {
      throw await this.holdings.releaseAfter(error);
    }
    const { stateDir, socket } = this.settings;
    this.log('info', 'serving', { stateDir, socket, control: controlSocketPath(stateDir), guests: this.service.records.size });
  }

  /** Takes, in order, what serving needs, each followed by how to let go of it: stop does that newest first. */
  private async serveAll(): Promise<void> {
    const { stateDir } = this.settings;
    await ensurePrivateDir(stateDir, 'state dir');
    this.holdings.add(await ownPidFile(statePaths(stateDir).pidFile, stateDir));
    // Work under way finishes (its commands have deadlines) before the pid file says no one serves.
    this.holdings.add(() => withStateLock(stateDir, async () => {}));
    this.holdings.add(() => this.runner.close());
    this.holdings.add(() => this.leaks.close());
    for (const release of this.served.releases) this.holdings.add(release);
    // A crash may have left half-done attaches and dead guests behind.
    logRecovered(this.log, await this.service.recover(this.runner.checking));
    // The host's `ip -batch` from the start (every attach makes a pair in one); a firewall's once it has run.
    this.host.spares.keep('ip-batch');
    this.holdings.add(() => this.host.spares.close());
    await this.served.serve();
    // Heard from before the first request: the host memory remembers nothing until then.
    this.monitor = watchHost(
      {
        changed: () => this.runner.changed(),
        lost: () => this.runner.forget(),
        linkDeleted: (name) =>
          void this.linkDeleted(name).catch((error: Error) => this.log('error', 'reconcile failed', { hostIf: name, error })),
        defaultRouteChanged: () => this.reconcileSoon(),
        // An uplink's MTU changes with no route event.
        linkChanged: (name) => void (this.service.records.all().some((r) => isRouted(r) && r.uplink === name) && this.reconcileSoon()),
        ipv6AddressChanged: (name) => void (mayMoveIpv6(this.service.records.all(), name) && this.reconcileSoon()),
      },
      (message) => this.log('warn', message),
      this.host.watch,
    );
    this.holdings.add(() => this.monitor?.stop());
    this.holdings.add(() => clearTimeout(this.eventPassTimer));
    await this.guests.start();
    this.holdings.add(() => this.guests.close());
    const control = await serveControl(stateDir, loggedRequests(this.log, this.handle.bind(this)));
    this.holdings.add(() => control.close());
    await this.sockets.add({ 'guest socket': this.settings.socket, 'control socket': controlSocketPath(stateDir) });
    // A moved default route is heard at once; a firewall reload makes no event, so the pass also runs every RECONCILE_MS, while our sockets last.
    const timer = setInterval(() => void this.sockets.intact().then((intact) => (intact ? this.reconcile() : undefined)), RECONCILE_MS);
    this.holdings.add(() => clearInterval(timer));
  }

  /** Stops serving, every step even after one fails; guests keep their network, and their agents reconnect to the next daemon. */
  async stop(): Promise<void> {
    await this.holdings.releaseAll();
  }

  private handle(request: ControlRequest, cancelled: AbortSignal): Promise<unknown> {
    if (request.type !== 'status') return this.runner.during(() => this.change(request, cancelled));
    return collectStatus(this.service.records.all(), this.runner.glancing, guestViewOf(this.guests, this.served.dhcp));
  }

  private async change(request: Exclude<ControlRequest, { type: 'status' }>, cancelled: AbortSignal): Promise<unknown> {
    switch (request.type) {
      case 'forward':
        return this.service.forward(String(request.pid), request.forward, request.remove);
      case 'detachAll':
        return this.service.detachAll();
      case 'cni':
        return serveCni(request, {
          stateDir: this.settings.stateDir,
          runner: this.runner,
          service: this.service,
          attach: (r) => this.attaches.submit([r]).then(([host]) => settledOne(host).then((done) => this.service.finishAttach(r, done))),
          serve: () => this.served.serve(),
        });
      case 'detach':
        return detachResultFor(request.pid, await settledOne((await this.detaches.submit([String(request.pid)]))[0]));
      case 'attach': {
        const pids = 'pids' in request ? request.pids : [request.pid];
        const results = await this.attach(pids, request.settings, request.wait, cancelled);
        if ('pids' in request) return { results: results.map((result, i) => memberResult(pids[i] as number, result)) };
        const [only] = results;
        if (only?.status === 'fulfilled') return only.value;
        throw only?.reason;
      }
    }
  }

  /**
   * Attaches each of `pids`, each settling on its own; their host sides join the group commit.
   * `cancelled`: the caller hung up (a CLI that got SIGTERM); what these attaches added is rolled back.
   */
  private async attach(pids: number[], requested: Record<string, unknown>, wait: boolean, cancelled: AbortSignal): Promise<EachSettled> {
    const resolved = resolveSettings(requested, {}, 'the attach request');
    // Without --dns, routed guests resolve through the forwarder on their gateway (the host's resolvers); others use their network's.
    const dns = resolved.dns ?? (recordTypeOf(resolved) === 'routed-veth' ? [resolved.gateway] : undefined);
    const settings = { ...resolved, dns, stateDir: this.settings.stateDir, socket: this.settings.socket };
    const guests = await Promise.allSettled(pids.map((pid) => processGuest(pid)));
    const guestSide = async (record: AttachmentRecord) => {
      // The host side is up: the guest's resolver, its gateway, can answer from now on.
      if (!cancelled.aborted) await this.served.serve();
      return daemonGuestSide(record, { wait, timeoutMs: settings.timeout, cancelled }, this.guests, this.served.dhcp);
    };
    const found = guests.flatMap((g) => (g.status === 'fulfilled' ? [g.value] : []));
    const requests = found.map((guest) => ({ guest, settings, extras: { waitsForAgent: wait }, guestSide }));
    const hosts = await this.attaches.submit(requests);
    let next = 0;
    return Promise.allSettled(
      guests.map(async (found) => {
        if (found.status === 'rejected') throw found.reason;
        const request = requests[next] as (typeof requests)[number];
        let confirmedName: string | undefined;
        try {
          const attached = await settledOne(hosts[next++]).then((host) => this.service.finishAttach(request, host));
          confirmedName = confirmedLinkName(attached.guest);
          return attachResult(attached, attached.guest ?? 'not-waited');
        } catch (error) {
          // It may have failed on something remembered wrongly (a firewall reloaded a moment ago): the next one looks afresh.
          this.runner.forget();
          throw error;
        } finally {
          this.leaks.settled(found.value.id, this.service.records.get(found.value.id), confirmedName);
        }
      }),
    );
  }

  /** A guest's host link went: its netns died (reap it) or someone deleted the link (put it back). */
  private async linkDeleted(name: string): Promise<void> {
    const record = this.service.records.withHostLink(name);
    return record && hasHostEnd(record) ? this.reconcileGuest(record, name) : undefined;
  }

  /**
   * Guests with no host link of ours (phys, macvlan, ipvlan, vlan, empty,
   * none) make no link event when they die, so each pass of the loop looks
   * at their netns; a dead one is reaped, and a phys NIC the kernel gave
   * back is restored.
   */
  private async reapLinklessGuests(): Promise<void> {
    for (const record of this.service.records.all()) {
      if (hasHostEnd(record) || (await guestAlive(record))) continue;
      await this.reconcileGuest(record);
    }
  }

  /** Its session ends with its record, if it was reaped. */
  private async reconcileGuest(record: AttachmentRecord, name?: string): Promise<void> {
    const done = await this.service.reconcileGuest(record.id, this.runner.checking);
    if (!done) return;
    logGuestReconciled(this.log, record, done, name);
    if (done.action === 'completed') {
      await this.served.serve();
      void this.guests.confirm(record, this.settings.timeout).catch(() => {});
    }
  }

  /** A pass for a host event: now while the budget lasts, else one when it allows (EVENT_PASSES). */
  private reconcileSoon(): void {
    if (this.eventPassTimer) return;
    if (this.eventPasses.take('host')) return void this.reconcile();
    this.eventPassTimer = setTimeout(() => {
      this.eventPassTimer = undefined;
      this.reconcileSoon();
    }, 1000 / EVENT_PASSES.perSecond).unref();
  }

  private async reconcile(): Promise<void> {
    // An attach or detach under way holds the state lock in turns: a pass now would make it wait, and the next one comes soon.
    if (this.reconciling || !this.runner.idle) return;
    this.reconciling = true;
    try {
      await this.reapLinklessGuests();
      const byId = () => new Map(this.service.records.all().map((r) => [r.id, r]));
      const before = byId();
      // With no guest it only looks whether another process (a CNI plugin) attached one: one stat.
      const steps = await this.service.reconcileHost(this.runner.checking, this.undoFailed);
      this.lastFailure = undefined;
      if (steps.length > 0) {
        const after = byId();
        await this.served.serve();
        logReconciled(this.log, steps, before, after);
        // A new MTU, or IPv6 gained or lost, is the guest's to apply: connected agents hear it now, others when they connect.
        for (const [id, record] of after) {
          const was = before.get(id);
          if (was && guestConfigChanged(was, record)) void this.guests.confirm(record, this.settings.timeout).catch(() => {});
        }
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.lastFailure) this.log('error', 'reconcile failed', { error });
      this.lastFailure = message;
    } finally {
      this.reconciling = false;
    }
  }
}
