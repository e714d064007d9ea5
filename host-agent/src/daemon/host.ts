import type { ExecContext } from '../exec/apply.js';
import { RealRunner, type Runner } from '../exec/runner.js';
import { Spares } from '../exec/spares.js';
import type { StartMonitor } from './monitor.js';

/** How the daemon reaches its host: this one's (thisHost), or stand-ins a test hands it. */
export interface DaemonHost {
  /** Runs its commands; the steps that name a spare command run in `spares`. */
  runner: Runner;
  /** The processes spawned ahead, kept while the daemon serves. */
  spares: Pick<Spares, 'keep' | 'close'>;
  /** Starts its watch of the kernel's events: `ip monitor` when none is given. */
  watch?: StartMonitor;
}

export interface DaemonOptions {
  /** Called after each setup op: the crash-recovery tests' seam (commands/serve.ts). */
  hooks?: Pick<ExecContext, 'afterSetupOp'>;
  /** Where netd takes DNS queries, on an Android host. */
  netdSocket?: string;
  host?: DaemonHost;
}

/** This host: a RealRunner whose spare steps run in processes spawned ahead. */
export function thisHost(commandTimeout: number): DaemonHost {
  const spares = new Spares();
  return { runner: new RealRunner(commandTimeout, spares), spares };
}
