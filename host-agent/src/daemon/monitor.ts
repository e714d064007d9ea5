import { IpMonitor } from '@guestnet/runtime';

// `ip -4 -o monitor link route` prints one line per netlink event, e.g.
// "Deleted 7: vm_wlan1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ..." or
// "default via 10.99.0.1 dev rmnet0".
const DELETED = /^Deleted\s+\d+:\s+([^:@\s]+)/;
const LINK = /^\d+:\s+([^:@\s]+)/;
const DEFAULT_ROUTE = /^(Deleted\s+)?default\s/;

export interface HostEvents {
  linkDeleted: (name: string) => void;
  /** Any other change of a link: its MTU, its state. */
  linkChanged: (name: string) => void;
  defaultRouteChanged: () => void;
}

/**
 * Reports every link deleted in this netns, and every change of its default
 * route, from kernel events: one process for all guests. Returns a stop
 * function. A monitor that dies is restarted; events lost meanwhile count as
 * a default-route change, so the reconcile loop looks again.
 */
export function watchHost(events: HostEvents, onError: (message: string) => void): () => void {
  const monitor = new IpMonitor(
    ['-4'],
    ['link', 'route'],
    (line) => {
      const deleted = DELETED.exec(line)?.[1];
      const changed = LINK.exec(line)?.[1];
      if (deleted) events.linkDeleted(deleted);
      else if (changed) events.linkChanged(changed);
      else if (DEFAULT_ROUTE.test(line)) events.defaultRouteChanged();
    },
    () => {
      onError('ip monitor exited; restarting it');
      events.defaultRouteChanged();
    },
  );
  monitor.start();
  return () => monitor.stop();
}
