import type { SpareProcess } from '@guestnet/runtime';
import type { ExecContext } from '../exec/apply.js';
import { RealRunner, type Runner, spareProcesses } from '../exec/runner.js';
import type { StartMonitor } from './monitor.js';

/** How the daemon reaches its host: this one's (thisHost), or stand-ins a test hands it. */
export interface DaemonHost {
  /** Runs its commands; the steps that name a spare run in it. */
  runner: Runner;
  /** The commands spawned ahead (`ip -batch`, `nft -f`), kept while the daemon serves. */
  spares: ReadonlyArray<Pick<SpareProcess, 'keep' | 'close'>>;
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

/** This host: a RealRunner whose spare steps run in the processes of their commands spawned ahead. */
export function thisHost(commandTimeout: number): DaemonHost {
  const spares = spareProcesses();
  return { runner: new RealRunner(commandTimeout, spares), spares: Object.values(spares) };
}
