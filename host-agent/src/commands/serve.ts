import { Daemon, type DaemonLog } from '../daemon/daemon.js';
import type { HostSettings } from '../model/settings.js';
import { BASE_TOOLS, requireTools } from '../net/tools.js';
import { requireRoot } from '../service/preflight.js';

/**
 * Runs the daemon until SIGTERM or SIGINT, or until it cannot serve whole (a
 * socket of its own removed or replaced). `killAfterOp` is a test seam: the
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
  const daemon = new Daemon(settings, log, { hooks, netdSocket: options.netdSocket });
  // Handlers that stay, taken before the start: a signal while the sockets
  // already answer but the start is not done, or a second one during
  // shutdown, must not kill us mid-way.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.on('SIGTERM', resolve);
    process.on('SIGINT', resolve);
  });
  try {
    await daemon.start();
    const ended = await Promise.race([signalled, daemon.failed]);
    if (typeof ended === 'string') {
      log('info', 'stopping; guests keep their network', { signal: ended });
      return await daemon.stop().catch((error: Error) => {
        log('error', 'stopping failed; the rest was stopped', { error });
        throw error;
      });
    }
    log('error', 'stopping; guests keep their network', { error: ended });
    await daemon.stop().catch((also: Error) => log('error', 'stopping failed too', { error: also }));
    throw ended;
  } finally {
    // Whatever ended it, a process that serves nothing must not live on: a
    // handle left open (a guest's wait, a child) would keep it alive,
    // looking like a daemon to a supervisor.
    setTimeout(() => process.exit(), LINGER_MS).unref();
  }
}

/** How long a stopped daemon may take to write its last lines before it exits anyway. */
const LINGER_MS = 2000;
