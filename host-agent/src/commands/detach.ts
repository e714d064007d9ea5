import { callDaemon } from '../daemon/control.js';
import { type DetachResult as EngineDetachResult, detachHostSide } from '../engine.js';
import { DryRunRunner, RealRunner } from '../exec/runner.js';
import { firewallFor } from '../firewall/select.js';
import { withStateLock } from '../lock.js';
import { BASE_TOOLS, requireRoot, requireTools } from '../preflight.js';

/** What the CLI and the control socket report: keyed by the pid they were given. */
export type DetachResult = Omit<EngineDetachResult, 'id'> & { pid: number };

/** The engine's result for a process guest, as the CLI and the daemon report it. */
export function detachResultFor(pid: number, { id, ...result }: EngineDetachResult): DetachResult {
  return { pid, ...result };
}

export interface DetachOptions {
  stateDir: string;
  dryRun: boolean;
  print: (line: string) => void;
}

/** Removes what attach added. The guest may be gone already; anything missing is skipped. */
export async function detach(pid: number, options: DetachOptions): Promise<DetachResult> {
  requireRoot('detach');
  await requireTools(BASE_TOOLS);
  if (!options.dryRun) {
    const viaDaemon = await callDaemon(options.stateDir, { type: 'detach', pid }, 60_000);
    if (viaDaemon.served) return viaDaemon.result as DetachResult;
  }
  const runner = options.dryRun ? new DryRunRunner(options.print) : new RealRunner();
  return withStateLock(options.stateDir, async () => {
    // The backend the attached guests use; with none attached there is nothing to find anyway.
    const firewall = await firewallFor('auto', options.stateDir, runner);
    await requireTools([firewall.tool]);
    return detachResultFor(pid, await detachHostSide(String(pid), options.stateDir, runner, firewall));
  });
}
