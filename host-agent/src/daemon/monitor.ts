import { createInterface } from 'node:readline';

// `ip -o monitor link route` prints one line per netlink event, e.g.
// "Deleted 7: vm_wlan1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ..." or
// "default via 10.99.0.1 dev rmnet0".
const DELETED = /^Deleted\s+\d+:\s+([^:@\s]+)/;
const DEFAULT_ROUTE = /^(Deleted\s+)?default\s/;

export interface HostEvents {
  linkDeleted: (name: string) => void;
  defaultRouteChanged: () => void;
}
const RESTART_DELAY_MS = 1000;

/**
 * Reports every link deleted in this netns, and every change of its default
 * route, from kernel events: one process for all guests, no polling. Returns
 * a stop function. A monitor that dies is restarted.
 */
export function watchHost(events: HostEvents, onError: (message: string) => void): () => void {
  let stopped = false;
  let current: { kill: () => boolean } | undefined;

  const start = async () => {
    const { execa } = await import('execa');
    const child = execa('ip', ['-4', '-o', 'monitor', 'link', 'route'], { buffer: false, reject: false, env: { LC_ALL: 'C' } });
    current = child;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const name = DELETED.exec(line)?.[1];
      if (name) events.linkDeleted(name);
      else if (DEFAULT_ROUTE.test(line)) events.defaultRouteChanged();
    });
    await child;
    if (!stopped) {
      onError('ip monitor exited; restarting it');
      setTimeout(() => void start(), RESTART_DELAY_MS).unref();
    }
  };
  void start();
  return () => {
    stopped = true;
    current?.kill();
  };
}
