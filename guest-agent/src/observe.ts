import { readFile } from 'node:fs/promises';
import { type IpTarget, readIp } from './ip.js';

export interface GuestLink {
  name: string;
  /** The kernel's ifindex: it stays while a link is renamed or given a new alias (a rotated token). */
  index?: number;
  alias: string | undefined;
  mtu: number;
  up: boolean;
  /** IPv4 addresses as address/prefix. */
  addresses: string[];
  /** Global IPv6 addresses as address/prefix: read only when the guest keeps an IPv6 configuration. */
  addresses6?: string[];
}

type DefaultRoute = { gateway: string; dev: string };

/** What `ip` shows of the guest's links, addresses, default route and rules. */
export interface IpState {
  links: GuestLink[];
  defaultRoute: DefaultRoute | undefined;
  /** Undefined also when IPv6 was not read. */
  defaultRoute6?: DefaultRoute | undefined;
  /** IPv6's rules, as mainRulePriority and terminalRulePriority are IPv4's; undefined when IPv6 was not read. */
  rules6?: { mainRulePriority: number | undefined; terminalRulePriority: number | undefined };
  /**
   * Priority of the first rule that sends every packet to `main`, if one comes
   * before any catch-all unreachable rule; undefined if routes in main are unused.
   */
  mainRulePriority: number | undefined;
  /** Priority of the first catch-all rule that ends routing (unreachable, prohibit, blackhole). */
  terminalRulePriority: number | undefined;
}

export interface GuestObserved extends IpState {
  /** The file that carries DNS (resolv.conf, or Android's ipconfig.txt); undefined: it does not exist. */
  dnsFile: Buffer | undefined;
}

type IpLink = { ifindex?: number; ifname: string; ifalias?: string; mtu: number; flags: string[] };
// An entry without `local` carries only lifetimes of the one before it.
type IpAddr = { ifname: string; addr_info: Array<{ local?: string; prefixlen: number; scope?: string }> };
type IpRoute = { gateway?: string; dev: string };
type IpRule = { priority: number; src: string; table?: string; action?: string } & Record<string, unknown>;

// A rule that matches everything has only these keys; any other key is a selector (fwmark, iif, ...).
const CATCH_ALL_KEYS = new Set(['priority', 'src', 'table', 'action']);
const isCatchAll = (rule: IpRule) => rule.src === 'all' && Object.keys(rule).every((key) => CATCH_ALL_KEYS.has(key));

/** The `ip -4 -j` commands whose output parseIpState reads, in this order. */
export const IP_STATE_COMMANDS = ['link show', 'address show', 'route show default', 'rule show'];
/** The `ip -6 -j` commands whose output parseIp6State reads, in this order: `ip` lists routes of one family per process. */
export const IP6_STATE_COMMANDS = ['address show scope global', 'route show default', 'rule show'];

const defaultRouteOf = (routes: IpRoute[]): DefaultRoute | undefined => {
  const route = routes.find((r) => r.gateway);
  return route?.gateway ? { gateway: route.gateway, dev: route.dev } : undefined;
};

/** Adds what `ip -6` showed to a state read with `ip -4`. */
export function withIp6State(state: IpState, output: string): IpState {
  const [addrs, routes, rules] = output
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line)) as [IpAddr[], IpRoute[], IpRule[]];
  const addressesOf = (name: string) =>
    (addrs.find((a) => a.ifname === name)?.addr_info ?? []).flatMap((info) =>
      info.local === undefined ? [] : [`${info.local}/${info.prefixlen}`],
    );
  const { main, terminal } = mainRuleOf(rules);
  return {
    ...state,
    links: state.links.map((link) => ({ ...link, addresses6: addressesOf(link.name) })),
    defaultRoute6: defaultRouteOf(routes),
    rules6: { mainRulePriority: main?.priority, terminalRulePriority: terminal?.priority },
  };
}

/** The first catch-all rule that ends routing, and the first that reads main before it. */
function mainRuleOf(rules: IpRule[]): { main: IpRule | undefined; terminal: IpRule | undefined } {
  const catchAll = rules.filter(isCatchAll);
  const terminal = catchAll.find((rule) => rule.action !== undefined && rule.table === undefined);
  const main = catchAll.find((rule) => rule.table === 'main' && (terminal === undefined || rule.priority < terminal.priority));
  return { main, terminal };
}

export function parseIpState(output: string): IpState {
  const [links, addrs, routes, rules] = output
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line)) as [IpLink[], IpAddr[], IpRoute[], IpRule[]];
  const addressesOf = (name: string) =>
    (addrs.find((a) => a.ifname === name)?.addr_info ?? []).flatMap((info) =>
      info.local === undefined ? [] : [`${info.local}/${info.prefixlen}`],
    );
  const { main, terminal } = mainRuleOf(rules);
  return {
    links: links.map((link) => ({
      name: link.ifname,
      ...(link.ifindex === undefined ? {} : { index: link.ifindex }),
      alias: link.ifalias,
      mtu: link.mtu,
      up: link.flags.includes('UP'),
      addresses: addressesOf(link.ifname),
    })),
    defaultRoute: defaultRouteOf(routes),
    mainRulePriority: main?.priority,
    terminalRulePriority: terminal?.priority,
  };
}

/**
 * One `ip` process for links, addresses, the default route and the rules
 * together, and with `ipv6` a second for IPv6's; no DNS file when
 * `dnsFilePath` is undefined.
 */
export async function observeGuest(dnsFilePath: string | undefined, target: IpTarget = {}, ipv6 = false): Promise<GuestObserved> {
  const [output, output6, dnsFile] = await Promise.all([
    readIp(IP_STATE_COMMANDS, target),
    ipv6 ? readIp(IP6_STATE_COMMANDS, target, 6) : undefined,
    dnsFilePath === undefined ? undefined : readFile(dnsFilePath).catch(() => undefined),
  ]);
  const state = parseIpState(output);
  return { ...(output6 === undefined ? state : withIp6State(state, output6)), dnsFile };
}

/** `previous` with links that arrived since, or undefined when one of them was already there: that is a change, not an arrival. */
export function withArrivedLinks(previous: GuestObserved, arrived: GuestLink[] | undefined): GuestObserved | undefined {
  if (!arrived || arrived.length === 0 || arrived.some((link) => previous.links.some((l) => l.name === link.name))) return undefined;
  // A look that read IPv6 shows the new links with none of it either.
  const ipv6Read = previous.links.some((link) => link.addresses6 !== undefined);
  return { ...previous, links: [...previous.links, ...arrived.map((link) => (ipv6Read ? { ...link, addresses6: [] } : link))] };
}
