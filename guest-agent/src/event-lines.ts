import type { IpState } from './observe.js';

/**
 * What one line of `ip -o monitor link address route rule` reports, as far as
 * a look at the guest (observe.ts) reads it. `ip` names a link in address and
 * route lines from a cache it does not update on a rename, so an address is
 * known by its link's index, and a route's device name may be a former one.
 */
export type EventLine =
  | { kind: 'link'; deleted: boolean; index: number; name: string; up: boolean; mtu: number }
  | { kind: 'address'; deleted: boolean; index: number; family: 4 | 6; cidr: string; global: boolean }
  | { kind: 'default route'; deleted: boolean; family: 4 | 6; gateway: string; dev: string }
  /** A route a look does not read: the kernel's prefix, local and broadcast routes, and any other non-default one. */
  | { kind: 'other route' }
  /** A rule, or anything not understood: only a new look tells what it changed. */
  | { kind: 'unknown' };

// "2: wlan0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP ..."
const LINK_LINE = /^(\d+): ([^@:\s]+)(?:@\S*)?: <([A-Z0-9_,-]*)> mtu (\d+) /;
// "2: wlan0    inet 172.17.3.3/16 brd 172.17.255.255 scope global wlan0\ ..."
const ADDRESS_LINE = /^(\d+): \S+\s+(inet6?) ([0-9a-f.:]+\/\d+) (?:[^\\]* )?scope (\w+)/;
// "default via 172.17.3.2 dev wlan0 ...", and none with a table: a look reads main's only.
const DEFAULT_ROUTE_LINE = /^default via ([0-9a-f.:]+) dev (\S+)(?!.* table )/;
// Rules ("100:\tfrom all lookup main") and links and addresses not matched above.
const NUMBERED_LINE = /^\d+:\s/;

export function parseEventLine(line: string): EventLine {
  const deleted = line.startsWith('Deleted ');
  const rest = deleted ? line.slice('Deleted '.length) : line;
  const link = LINK_LINE.exec(rest);
  if (link) {
    const [, index = '', name = '', flags = '', mtu = ''] = link;
    return { kind: 'link', deleted, index: Number(index), name, up: flags.split(',').includes('UP'), mtu: Number(mtu) };
  }
  const address = ADDRESS_LINE.exec(rest);
  if (address) {
    const [, index = '', inet = '', cidr = '', scope = ''] = address;
    return { kind: 'address', deleted, index: Number(index), family: inet === 'inet6' ? 6 : 4, cidr, global: scope === 'global' };
  }
  const route = DEFAULT_ROUTE_LINE.exec(rest);
  if (route) {
    const [, gateway = '', dev = ''] = route;
    return { kind: 'default route', deleted, family: gateway.includes(':') ? 6 : 4, gateway, dev };
  }
  if (NUMBERED_LINE.test(rest) || rest.startsWith('default') || rest.trim() === '') return { kind: 'unknown' };
  return { kind: 'other route' };
}

/**
 * Whether events that came after a look show nothing that look did not: each
 * thing's last event (an apply's own events arrive after its read-back)
 * agrees with `state`. A line undefined (the monitor restarted) agrees with
 * nothing. When this holds, a new look would see what `state` shows.
 */
export function onlyEchoes(lines: ReadonlyArray<string | undefined>, state: IpState): boolean {
  const last = new Map<string, EventLine>();
  for (const line of lines) {
    if (line === undefined) return false;
    const event = parseEventLine(line);
    if (event.kind === 'unknown') return false;
    last.set(keyOf(event), event);
  }
  return [...last.values()].every((event) => agrees(event, state));
}

function keyOf(event: EventLine): string {
  if (event.kind === 'link') return `link ${event.index}`;
  if (event.kind === 'address') return `address ${event.index} ${event.cidr}`;
  if (event.kind === 'default route') return `default route ${event.family} ${event.gateway}`;
  return event.kind;
}

function agrees(event: EventLine, state: IpState): boolean {
  switch (event.kind) {
    case 'other route':
      return true;
    case 'link': {
      const link = state.links.find((l) => l.index === event.index);
      if (event.deleted) return link === undefined;
      return link?.name === event.name && link.up === event.up && link.mtu === event.mtu;
    }
    case 'address': {
      const link = state.links.find((l) => l.index === event.index);
      // Link-local IPv6 is the kernel's, and IPv6 not read is not kept: a look would not see either.
      if (event.family === 6 && (!event.global || (link && link.addresses6 === undefined))) return true;
      const addresses = event.family === 6 ? link?.addresses6 : link?.addresses;
      if (addresses === undefined) return false;
      return addresses.includes(event.cidr) !== event.deleted;
    }
    case 'default route': {
      const route = event.family === 6 ? state.defaultRoute6 : state.defaultRoute;
      if (event.family === 6 && state.rules6 === undefined) return true;
      const here = route?.gateway === event.gateway && (route.dev === event.dev || !state.links.some((l) => l.name === event.dev));
      return here !== event.deleted;
    }
    default:
      return false;
  }
}
