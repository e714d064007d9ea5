import { IpMonitor } from '@guestnet/runtime';

// `ip -o monitor link route rule address` prints one line per netlink event, e.g.
// "Deleted 7: vm_wlan1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ...",
// "default via 10.99.0.1 dev rmnet0", for a rule "32000:\tfrom all iif vm_wlan lookup 1001",
// or for an address "3: wlan0    inet6 2001:db8:1::2/64 scope global dynamic ..." (a link's
// name is followed by a colon, an address's by its family).
const ADDRESS6 = /^(?:Deleted\s+)?\d+:\s+([^:@\s]+)\s+inet6\s/;
const ADDRESS4 = /^(?:Deleted\s+)?\d+:\s+[^:@\s]+\s+inet\s/;
// A deleted rule's line is "Deleted 32000:\tfrom ...": a link's has a space after its index's colon, as LINK.
const DELETED = /^Deleted\s+\d+: ([^:@\s]+)/;
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
  /** An IPv6 address of `name` came, went or changed (finished duplicate address detection, say). */
  ipv6AddressChanged: (name: string) => void;
}

export interface HostWatch {
  stop(): void;
  /** Whether events from now on are heard. */
  readonly running: boolean;
}

/** Starts a monitor that calls `onLine` for each event line, and `onRestart` when it died and was restarted. */
export type StartMonitor = (onLine: (line: string) => void, onRestart: () => void) => HostWatch;

/** One `ip -o monitor` of this netns (runtime's IpMonitor, which restarts it). */
const ipMonitor: StartMonitor = (onLine, onRestart) => {
  const monitor = new IpMonitor([], ['link', 'route', 'rule', 'address'], onLine, onRestart);
  monitor.start();
  return monitor;
};

/**
 * Reports every change of this netns's links, routes, policy rules and addresses from
 * kernel events: one process for all guests. A monitor that dies is
 * restarted; events lost meanwhile count as a default-route change, so the
 * reconcile loop looks again.
 */
export function watchHost(events: HostEvents, onError: (message: string) => void, start: StartMonitor = ipMonitor): HostWatch {
  return start(
    (line) => {
      events.changed();
      const address6 = ADDRESS6.exec(line)?.[1];
      if (address6) return events.ipv6AddressChanged(address6);
      if (ADDRESS4.test(line)) return;
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
}
