import { Daemon, type DaemonLog } from '../daemon/daemon.js';
import type { HostSettings } from '../model/settings.js';
import { BASE_TOOLS, requireTools } from '../net/tools.js';
import { requireRoot } from '../service/preflight.js';

/**
 * Runs the daemon until SIGTERM or SIGINT. `killAfterOp` is a test seam: the
 * crash-recovery tests make the daemon SIGKILL itself right after its Nth
 * setup op, to prove recovery from every step.
 */
export async function serve(
  settings: HostSettings,
  log: DaemonLog,
  options: { killAfterOp?: number; netdSocket?: string } = {},
): Promise<void> {
  requireRoot('serve');
  await requireTools(BASE_TOOLS);
  let applied = 0;
  const { killAfterOp } = options;
  const hooks = killAfterOp ? { afterSetupOp: () => void (++applied === killAfterOp && process.kill(process.pid, 'SIGKILL')) } : {};
  const daemon = new Daemon(settings, log, hooks, options.netdSocket);
  await daemon.start();
  // Handlers that stay: a second signal during shutdown must not kill us mid-way.
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.on('SIGTERM', resolve);
    process.on('SIGINT', resolve);
  });
  log('info', 'stopping; guests keep their network', { signal });
  await daemon.stop();
}
