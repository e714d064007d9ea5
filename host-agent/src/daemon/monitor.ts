import { createInterface } from 'node:readline';

// `ip -o monitor link` prints one line per netlink link event, e.g.
// "Deleted 7: vm_wlan1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ...".
const DELETED = /^Deleted\s+\d+:\s+([^:@\s]+)/;
const RESTART_DELAY_MS = 1000;

/**
 * Calls `onDeleted` with the name of every link deleted in this netns, from
 * kernel events: one process for all guests, no polling. Returns a stop
 * function. A monitor that dies is restarted.
 */
export function watchLinkDeletions(onDeleted: (name: string) => void, onError: (message: string) => void): () => void {
  let stopped = false;
  let current: { kill: () => boolean } | undefined;

  const start = async () => {
    const { execa } = await import('execa');
    const child = execa('ip', ['-o', 'monitor', 'link'], { buffer: false, reject: false, env: { LC_ALL: 'C' } });
    current = child;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const name = DELETED.exec(line)?.[1];
      if (name) onDeleted(name);
    });
    await child;
    if (!stopped) {
      onError('ip monitor link exited; restarting it');
      setTimeout(() => void start(), RESTART_DELAY_MS).unref();
    }
  };
  void start();
  return () => {
    stopped = true;
    current?.kill();
  };
}
