import { callDaemon, replyWithin } from '../daemon/control.js';
import { requireRoot } from '../service/preflight.js';
import type { DetachAllResult, DetachResult } from '../service/results.js';

export type { DetachAllResult, DetachResult } from '../service/results.js';

export interface DetachOptions {
  stateDir: string;
  dryRun: boolean;
  print: (line: string) => void;
  /** How long each command may run (see settings); the daemon keeps to its own. */
  commandTimeout: number;
}

/** Removes what attach added. The guest may be gone already; anything missing is skipped. */
export async function detach(pid: number, options: DetachOptions): Promise<DetachResult> {
  requireRoot('detach');
  if (!options.dryRun) {
    const viaDaemon = await callDaemon(options.stateDir, { type: 'detach', pid }, replyWithin(options.commandTimeout));
    if (viaDaemon.served) return viaDaemon.result as DetachResult;
  }
  const { AttachmentService, DryRunRunner, RealRunner, detachResultFor } = await import('../engine.js');
  const service = new AttachmentService(
    options.stateDir,
    options.dryRun ? new DryRunRunner(options.print) : new RealRunner(options.commandTimeout),
  );
  return detachResultFor(pid, await service.detach(String(pid)));
}

/** Removes every guest of the state dir at once, through the daemon when one serves it. */
export async function detachAll(options: DetachOptions): Promise<DetachAllResult> {
  requireRoot('detach');
  if (!options.dryRun) {
    const viaDaemon = await callDaemon(options.stateDir, { type: 'detachAll' }, replyWithin(options.commandTimeout));
    if (viaDaemon.served) return viaDaemon.result as DetachAllResult;
  }
  const { AttachmentService, DryRunRunner, RealRunner } = await import('../engine.js');
  const service = new AttachmentService(
    options.stateDir,
    options.dryRun ? new DryRunRunner(options.print) : new RealRunner(options.commandTimeout),
  );
  return service.detachAll();
}
