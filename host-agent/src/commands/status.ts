import { callDaemon } from '../daemon/control.js';
import { requireRoot } from '../service/preflight.js';
import type { Status } from '../service/status.js';

/** From the daemon when one serves `stateDir` (it knows the agents), else read directly. */
export async function status(stateDir: string, commandTimeout?: number): Promise<Status> {
  requireRoot('status');
  const viaDaemon = await callDaemon(stateDir, { type: 'status' }, 10_000);
  if (viaDaemon.served) return viaDaemon.result as Status;
  const { RealRunner, collectStatus, readRecords } = await import('../engine.js');
  return collectStatus(await readRecords(stateDir), new RealRunner(commandTimeout));
}
