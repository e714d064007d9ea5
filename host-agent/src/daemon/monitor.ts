import { IpMonitor } from '@guestnet/runtime';

// `ip -o monitor link route rule` prints one line per netlink event, e.g.
// "Deleted 7: vm_wlan1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ...",
// "default via 10.99.0.1 dev rmnet0" or, for a rule, "32000:\tfrom all iif vm_wlan lookup 1001".
const DELETED = /^Deleted\s+\d+:\s+([^:@\s]+)/;
const LINK = /^\d+: ([^:@\s]+)/;
const DEFAULT_ROUTE = /^(Deleted\s+)?default\s/;

export interface HostEvents {
  /** Any event at all: what the daemon remembers of the host may be out of date. */
  changed: () => void;
  /** The monitor died: events may have been lost. */
  lost: () => void;
  linkDeleted: (name: string) => void;
  /** Any other change of a link: its MTU, its state. */
  linkChanged: (name: string) => void;
  /** Of either family: the reconcile loop looks at both. */
  defaultRouteChanged: () => void;
}

export interface HostWatch {
  stop(): void;
  /** Whether events from now on are heard. */
  readonly running: boolean;
}

/**
 * Reports every change of this netns's links, routes and policy rules from
 * kernel events: one process for all guests. A monitor that dies is
 * restarted; events lost meanwhile count as a default-route change, so the
 * reconcile loop looks again.
 */
export function watchHost(events: HostEvents, onError: (message: string) => void): HostWatch {
  const monitor = new IpMonitor(
    [],
    ['link', 'route', 'rule'],
    (line) => {
      events.changed();
      const deleted = DELETED.exec(line)?.[1];
      const changed = LINK.exec(line)?.[1];
      if (deleted) events.linkDeleted(deleted);
      else if (changed) events.linkChanged(changed);
      else if (DEFAULT_ROUTE.test(line)) events.defaultRouteChanged();
    },
    () => {
      onError('ip monitor exited; restarting it');
      events.lost();
      events.defaultRouteChanged();
    },
  );
  monitor.start();
  return monitor;
}
