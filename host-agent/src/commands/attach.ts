import { callDaemon } from '../daemon/control.js';
import { attachHostSide, configureMessage, type HostSideResult } from '../engine.js';
import type { AppliedOp } from '../exec/apply.js';
import { DryRunRunner, RealRunner } from '../exec/runner.js';
import { firewallFor } from '../firewall/select.js';
import type { GuestConfirmation } from '../guest/exchange.js';
import { configureGuest, interrupted, type SessionEvents } from '../guest/one-shot.js';
import { withStateLock } from '../lock.js';
import { BASE_TOOLS, processGuest, requireRoot, requireTools } from '../preflight.js';
import type { HostSettings } from '../settings.js';
import type { AttachmentRecord, GuestIdentity } from '../state.js';

export interface AttachOptions {
  settings: HostSettings;
  dryRun: boolean;
  wait: boolean;
  print: (line: string) => void;
  onGuestEvent?: SessionEvents;
}

export interface AttachResult {
  attachment: Omit<AttachmentRecord, 'token'>;
  firewall: string;
  changed: boolean;
  steps: AppliedOp[];
  guest: GuestConfirmation | 'not-waited' | 'dry-run';
}

// Waiting for the guest runs inside the daemon; the reply may take that long.
const DAEMON_REPLY_MARGIN_MS = 10_000;

/** Through the daemon when one serves the state dir, otherwise here, through the same code. */
export async function attach(pid: number, options: AttachOptions): Promise<AttachResult> {
  requireRoot('attach');
  await requireTools(BASE_TOOLS);
  const { settings } = options;
  if (!options.dryRun) {
    const request = { type: 'attach' as const, pid, settings: { ...settings }, wait: options.wait };
    const viaDaemon = await callDaemon(settings.stateDir, request, settings.timeout + DAEMON_REPLY_MARGIN_MS);
    if (viaDaemon.served) return viaDaemon.result as AttachResult;
  }
  const guest = await processGuest(pid);
  return withStateLock(settings.stateDir, () => attachHere(guest, options));
}

async function attachHere(guest: GuestIdentity, options: AttachOptions): Promise<AttachResult> {
  const { settings, dryRun } = options;
  const runner = dryRun ? new DryRunRunner(options.print) : new RealRunner();
  // A launcher that gives up kills us: finish the step under way, then roll back rather than die half-configured.
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => abort.abort(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let host: HostSideResult | undefined;
  try {
    const firewall = await firewallFor(settings.firewall, settings.stateDir, runner);
    await requireTools([firewall.tool]);
    host = await attachHostSide(guest, settings, runner, firewall);
    const { token, ...attachment } = host.record;
    const result = { attachment, firewall: firewall.name, changed: host.changed, steps: host.steps };
    if (dryRun) return { ...result, guest: 'dry-run' };
    if (abort.signal.aborted) throw interrupted(abort.signal);
    if (!options.wait) return { ...result, guest: 'not-waited' };
    return { ...result, guest: await configureGuest(settings.socket, configureMessage(host.record), settings.timeout, abort.signal, options.onGuestEvent) };
  } catch (error) {
    await host?.rollBack(error);
    throw error;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
