import { callDaemon } from '../daemon/control.js';
import { RealRunner } from '../exec/runner.js';
import { requireRoot } from '../service/preflight.js';
import { collectStatus, type Status } from '../service/status.js';
import { readRecords } from '../state/store.js';

/** From the daemon when one serves `stateDir` (it knows the agents), else read directly. */
export async function status(stateDir: string, commandTimeout?: number): Promise<Status> {
  requireRoot('status');
  const viaDaemon = await callDaemon(stateDir, { type: 'status' }, 10_000);
  if (viaDaemon.served) return viaDaemon.result as Status;
  return collectStatus(await readRecords(stateDir), new RealRunner(commandTimeout));
}
