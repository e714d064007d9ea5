import { callDaemon } from '../daemon/control.js';
import { type ForwardResult, forwardHostSide } from '../engine.js';
import { DryRunRunner, RealRunner } from '../exec/runner.js';
import { firewallFor } from '../firewall/select.js';
import type { Forward } from '../forward.js';
import { withStateLock } from '../lock.js';
import { BASE_TOOLS, requireRoot, requireTools } from '../preflight.js';

export interface ForwardOptions {
  stateDir: string;
  remove: boolean;
  dryRun: boolean;
  print: (line: string) => void;
}

/** Forwards a host port to an attached guest (or stops). The forward goes away with the guest. */
export async function forward(pid: number, spec: Forward, options: ForwardOptions): Promise<ForwardResult> {
  requireRoot('forward');
  await requireTools(BASE_TOOLS);
  if (!options.dryRun) {
    const viaDaemon = await callDaemon(options.stateDir, { type: 'forward', pid, forward: spec, remove: options.remove }, 60_000);
    if (viaDaemon.served) return viaDaemon.result as ForwardResult;
  }
  const runner = options.dryRun ? new DryRunRunner(options.print) : new RealRunner();
  return withStateLock(options.stateDir, async () => {
    // The backend the attached guests use; with none attached there is nothing to find anyway.
    const firewall = await firewallFor('auto', options.stateDir, runner);
    await requireTools([firewall.tool]);
    return forwardHostSide(String(pid), spec, options.remove, options.stateDir, runner, firewall);
  });
}
