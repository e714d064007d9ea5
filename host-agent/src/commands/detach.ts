import { type AppliedOp, applyTeardown } from '../exec/apply.js';
import { DryRunRunner, RealRunner } from '../exec/runner.js';
import { nftables } from '../firewall/nftables.js';
import { withStateLock } from '../lock.js';
import { observeHost } from '../observe.js';
import { planDetach } from '../planner.js';
import { BASE_TOOLS, requireRoot, requireTools } from '../preflight.js';

export interface DetachOptions {
  stateDir: string;
  dryRun: boolean;
  print: (line: string) => void;
}

export interface DetachResult {
  pid: number;
  wasAttached: boolean;
  steps: AppliedOp[];
}

/** Removes what attach added. The guest may be gone already; anything missing is skipped. */
export async function detach(pid: number, options: DetachOptions): Promise<DetachResult> {
  const firewall = nftables;
  requireRoot('detach');
  await requireTools([...BASE_TOOLS, firewall.tool]);
  const runner = options.dryRun ? new DryRunRunner(options.print) : new RealRunner();
  return withStateLock(options.stateDir, async () => {
    const observed = await observeHost(runner, options.stateDir, firewall);
    const record = observed.records.find((r) => r.pid === pid);
    if (!record) return { pid, wasAttached: false, steps: [] };
    const steps = await applyTeardown(planDetach(observed, record), runner, { firewall, stateDir: options.stateDir });
    return { pid, wasAttached: true, steps };
  });
}
