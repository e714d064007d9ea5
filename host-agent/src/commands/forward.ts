import { callDaemon, replyWithin } from '../daemon/control.js';
import type { PortForward } from '../model/port-forward.js';
import type { ForwardResult } from '../service/attachments.js';
import { requireRoot } from '../service/preflight.js';

export interface ForwardOptions {
  stateDir: string;
  remove: boolean;
  dryRun: boolean;
  print: (line: string) => void;
  /** How long each command may run (see settings); the daemon keeps to its own. */
  commandTimeout: number;
}

/** Forwards a host port to an attached guest (or stops). The forward goes away with the guest. */
export async function forward(pid: number, spec: PortForward, options: ForwardOptions): Promise<ForwardResult> {
  requireRoot('forward');
  if (!options.dryRun) {
    const viaDaemon = await callDaemon(
      options.stateDir,
      { type: 'forward', pid, forward: spec, remove: options.remove },
      replyWithin(options.commandTimeout),
    );
    if (viaDaemon.served) return viaDaemon.result as ForwardResult;
  }
  const { AttachmentService, DryRunRunner, RealRunner } = await import('../engine.js');
  const service = new AttachmentService(
    options.stateDir,
    options.dryRun ? new DryRunRunner(options.print) : new RealRunner(options.commandTimeout),
  );
  return service.forward(String(pid), spec, options.remove);
}
