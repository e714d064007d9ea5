import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SocketBusyError } from '@guestnet/protocol';
import { type ControlRequest, controlSocketPath, serveControl } from '../daemon/control.js';
import { GuestServer } from '../daemon/guests.js';
import { watchHost } from '../daemon/monitor.js';
import { attachHostSide, detachHostSide, forwardHostSide, reconcileGuest, reconcileHost, recover } from '../engine.js';
import { RealRunner } from '../exec/runner.js';
import { firewallFor } from '../firewall/select.js';
import { ownerOf, tryOwn, withStateLock } from '../lock.js';
import type { Level } from '../log.js';
import { BASE_TOOLS, processGuest, requireRoot, requireTools } from '../preflight.js';
import { detachResultFor } from './detach.js';
import { type HostSettings, resolveSettings } from '../settings.js';
import { type AttachmentRecord, readRecords } from '../state.js';
import { collectStatus } from './status.js';

// Within the 2 s a user notices: how soon rules a firewall reload flushed are back.
const RECONCILE_MS = 1000;

export type DaemonLog = (level: Level, message: string, meta?: Record<string, unknown>) => void;

/**
 * `host-agent serve`: the single writer of one state dir. Attach, detach and
 * status requests arrive on the control socket and are serialised; guest
 * agents stay connected on the guest socket; link-deletion events reap dead
 * guests. Resolves when SIGTERM or SIGINT has stopped it, leaving every
 * guest's network in place.
 */
export async function serve(settings: HostSettings, log: DaemonLog): Promise<void> {
  requireRoot('serve');
  await requireTools(BASE_TOOLS);
  const { stateDir } = settings;
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const pidFile = join(stateDir, 'serve.pid');
  if (!(await tryOwn(pidFile))) {
    throw new SocketBusyError(`host-agent serve (pid ${await ownerOf(pidFile)}) already serves ${stateDir}`);
  }

  const runner = new RealRunner();
  const inUse = () => firewallFor('auto', stateDir, runner);
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = chain.then(() => withStateLock(stateDir, work));
    chain = run.catch(() => {});
    return run;
  };

  let byToken = new Map<string, AttachmentRecord>();
  const refresh = async () => {
    byToken = new Map((await readRecords(stateDir)).map((r) => [r.token, r]));
  };

  const guests = new GuestServer(
    settings.socket,
    (tokens) => tokens.map((t) => byToken.get(t)).find((r) => r !== undefined),
    rateLimited((reason, suppressed) => log('warn', 'guest connection rejected', { reason, ...(suppressed ? { suppressed } : {}) })),
  );

  // A crash may have left half-done attaches and dead guests behind.
  const recovered = await exclusive(() => recover(stateDir, runner));
  for (const r of recovered) log('info', r.action === 'completed' ? 'completed a half-done attach' : 'removed a dead guest', { ...r });
  await refresh();

  // A guest's host link went: its netns died (reap it) or someone deleted the link (put it back).
  const linkDeleted = async (name: string) => {
    const record = [...byToken.values()].find((r) => r.hostIf === name);
    if (!record) return;
    const done = await exclusive(() => reconcileGuest(record, stateDir, runner));
    await refresh();
    if (!done) return;
    log('info', done.action === 'completed' ? 'repaired a live guest' : 'reaped a gone guest', { id: record.id, hostIf: name });
    if (done.action === 'removed') guests.forget(record.token);
    else void guests.confirm(record, settings.timeout).catch(() => {});
  };

  const handle = async (request: ControlRequest): Promise<unknown> => {
    if (request.type === 'status') {
      return collectStatus(stateDir, runner, (token) => ({ connected: guests.connected(token), lastApply: guests.lastApply(token) }));
    }
    if (request.type === 'forward') {
      const result = await exclusive(async () => forwardHostSide(String(request.pid), request.forward, request.remove, stateDir, runner, await inUse()));
      await refresh();
      return result;
    }
    if (request.type === 'detach') {
      const result = detachResultFor(request.pid, await exclusive(async () => detachHostSide(String(request.pid), stateDir, runner, await inUse())));
      const record = [...byToken.values()].find((r) => r.pid === request.pid);
      if (record) guests.forget(record.token);
      await refresh();
      return result;
    }
    const requested = resolveSettings(request.settings, {}, 'the attach request');
    const attachSettings = { ...requested, stateDir, socket: settings.socket };
    const guest = await processGuest(request.pid);
    const host = await exclusive(async () => {
      const firewall = await firewallFor(attachSettings.firewall, stateDir, runner);
      await requireTools([firewall.tool]);
      return attachHostSide(guest, attachSettings, runner, firewall, (record) => byToken.set(record.token, record));
    }).finally(refresh);
    const { token, ...attachment } = host.record;
    const result = { attachment, firewall: host.record.firewall, changed: host.changed, steps: host.steps };
    if (!request.wait) return { ...result, guest: 'not-waited' };
    try {
      return { ...result, guest: await guests.confirm(host.record, attachSettings.timeout) };
    } catch (error) {
      await exclusive(() => host.rollBack(error));
      await refresh();
      if (!byToken.has(token)) guests.forget(token);
      throw error;
    }
  };

  await guests.start();
  const control = await serveControl(stateDir, handle);
  // A default route that moves is heard at once; a firewall reload makes no
  // event, so the same pass also runs every RECONCILE_MS.
  let reconciling = false;
  const reconcile = async () => {
    if (reconciling || byToken.size === 0) return;
    reconciling = true;
    try {
      const steps = await exclusive(() => reconcileHost(stateDir, runner));
      if (steps.length > 0) {
        await refresh();
        log('info', 'reconciled the host', { steps: steps.map((s) => s.op) });
      }
    } catch (error) {
      log('error', 'reconcile failed', { error });
    } finally {
      reconciling = false;
    }
  };
  const timer = setInterval(() => void reconcile(), RECONCILE_MS);
  const stopMonitor = watchHost(
    {
      linkDeleted: (name) => void linkDeleted(name).catch((error: Error) => log('error', 'reconcile failed', { hostIf: name, error })),
      defaultRouteChanged: () => void reconcile(),
    },
    (message) => log('warn', message),
  );
  log('info', 'serving', { stateDir, socket: settings.socket, control: controlSocketPath(stateDir), guests: byToken.size });

  // process.on, not once: a once-wrapper is removed before it runs, and execa's
  // signal-exit, seeing itself as the last listener, would then re-raise the
  // signal and kill us mid-shutdown.
  let stopping: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stopping = resolve));
  const onSignal = (signal: NodeJS.Signals) => stopping(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  log('info', 'stopping; guests keep their network', { signal: await stopped });
  stopMonitor();
  clearInterval(timer);
  await new Promise<void>((resolve) => control.close(() => resolve()));
  await fs.rm(controlSocketPath(stateDir), { force: true });
  await guests.close();
  await chain;
  await fs.rm(pidFile, { force: true });
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}

/** At most one line per second for a flood of the same event, counting what it left out. */
function rateLimited(write: (reason: string, suppressed: number) => void): (reason: string) => void {
  let last = 0;
  let suppressed = 0;
  return (reason) => {
    const now = Date.now();
    if (now - last < 1000) {
      suppressed++;
      return;
    }
    write(reason, suppressed);
    last = now;
    suppressed = 0;
  };
}
