import { AgentError } from '@guestnet/protocol';
import { callDaemon, type ManyResults, memberResult, replyWithin } from '../daemon/control.js';
import type { SessionEvents } from '../guest-link/one-shot.js';
import { guestConfigModeOf } from '../model/guest-config.js';
import { refuseOneShot } from '../model/guest-config-mode.js';
import type { HostSettings } from '../model/settings.js';
import { requireRoot } from '../service/preflight.js';
import type { AttachResult } from '../service/results.js';

export type { AttachResult } from '../service/results.js';

export interface AttachOptions {
  settings: HostSettings;
  dryRun: boolean;
  wait: boolean;
  print: (line: string) => void;
  onGuestEvent?: SessionEvents;
}

/** Through the daemon when one serves the state dir, otherwise here, through the same service. */
export async function attach(pid: number, options: AttachOptions): Promise<AttachResult> {
  requireRoot('attach');
  const { settings, dryRun } = options;
  // A launcher that gives up kills us: finish the step under way, then roll back rather than die half-configured.
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => abort.abort(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    if (!dryRun) {
      const request = { type: 'attach' as const, pid, settings: { ...settings }, wait: options.wait };
      // Waiting for the guest runs inside the daemon; the reply may take that long.
      const within = replyWithin(settings.commandTimeout, settings.timeout);
      const viaDaemon = await callDaemon(settings.stateDir, request, within, abort.signal).catch(async (error: unknown) => {
        // The daemon rolled back because we hung up on it: say why we did.
        if (!abort.signal.aborted || !(error instanceof AgentError) || error.code !== 'interrupted') throw error;
        throw (await import('../engine.js')).interrupted(String(abort.signal.reason));
      });
      if (viaDaemon.served) return viaDaemon.result as AttachResult;
      refuseOneShot(settings);
    }
    // Here, with no daemon: only now the engine loads.
    const {
      AttachmentService,
      DryRunRunner,
      RealRunner,
      attachResult,
      confirmedLinkName,
      configureFromHost,
      configureGuest,
      interrupted,
      processGuest,
      tokenIsFirstName,
    } = await import('../engine.js');
    const guest = await processGuest(pid);
    const service = new AttachmentService(
      settings.stateDir,
      dryRun ? new DryRunRunner(options.print) : new RealRunner(settings.commandTimeout),
    );
    const waits = !dryRun && options.wait;
    let leaked = false;
    const onGuestEvent: SessionEvents = (event) => {
      if ('leaked' in event && event.leaked) leaked = true;
      options.onGuestEvent?.(event);
    };
    const attached = await service.attach({
      guest,
      settings,
      // A dry run shows the commands of the attach it stands for.
      extras: { waitsForAgent: options.wait },
      guestSide: async (record) => {
        if (abort.signal.aborted) throw interrupted(String(abort.signal.reason));
        if (guestConfigModeOf(record) === 'host' && !dryRun) return configureFromHost(record).then(() => 'configured-by-host' as const);
        if (!waits) return undefined;
        return configureGuest(settings.socket, record, settings.timeout, abort.signal, onGuestEvent);
      },
    });
    // Someone in another netns proved it holds the token while this attach waited, or the token was the link's first name,
    // which the kernel logged when the agent renamed the link: a new one ends that.
    if (leaked || (!dryRun && tokenIsFirstName(attached.record))) await service.rotate(attached.record, confirmedLinkName(attached.guest));
    return attachResult(attached, attached.guest ?? (dryRun ? 'dry-run' : 'not-waited'));
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/**
 * Many guests with the same settings, for a launcher that starts a farm: one
 * request to the daemon, which plans their host sides together; without one,
 * one after another here. Each guest succeeds or fails on its own.
 */
export async function attachMany(pids: number[], options: AttachOptions): Promise<ManyResults> {
  requireRoot('attach');
  const { settings } = options;
  if (!options.dryRun) {
    const request = { type: 'attach' as const, pids, settings: { ...settings }, wait: options.wait };
    // Each guest alone, in the worst case (the group's plan failed): a command's deadlines each.
    const within = replyWithin(settings.commandTimeout, settings.timeout + pids.length * settings.commandTimeout);
    const viaDaemon = await callDaemon(settings.stateDir, request, within);
    if (viaDaemon.served) return viaDaemon.result as ManyResults;
  }
  const results: ManyResults['results'] = [];
  for (const pid of pids)
    results.push(
      memberResult(
        pid,
        await attach(pid, options).then(
          (value): PromiseSettledResult<AttachResult> => ({ status: 'fulfilled', value }),
          (reason: unknown): PromiseSettledResult<AttachResult> => ({ status: 'rejected', reason }),
        ),
      ),
    );
  return { results };
}
