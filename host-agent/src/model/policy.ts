// Android's netd keeps each network's routes, default included, in a table of
// its own (1000 + ifindex), makes no rule that looks up main, and routes
// unmarked traffic through local_network (table 97) first. Guests then need
// what tethering gives a downstream: a rule sending their packets to the
// uplink's table, and their own route in table 97 for the replies.

export const LOCAL_NETWORK_TABLE = 97;
// Where Android's tethering puts its "iif <downstream> lookup <upstream>" rules.
export const GUEST_RULE_PRIORITY = 21000;

export interface DefaultRoute {
  dev: string;
  /** "main", or the number of the table that holds it. */
  table: string;
  metric?: number;
  /** The route's own MTU, when it has one (a tunnel's, a carrier's). */
  mtu?: number;
}

export interface PolicyRule {
  priority: number;
  iif?: string;
  table?: string;
  fwmark?: string;
  fwmask?: string;
}

/** What the host's policy routing looks like. */
export interface PolicyState {
  defaults: DefaultRoute[];
  rules: PolicyRule[];
  /** Destinations in table 97, as "address dev". */
  localNetwork: ReadonlySet<string>;
  /** The same for IPv6: read by a deep look only. */
  rules6?: PolicyRule[];
  localNetwork6?: ReadonlySet<string>;
}

/** The ip rule and table-97 route one guest needs on a netd-style host. */
export interface PolicyRoute {
  hostIf: string;
  guestAddress: string;
  gateway: string;
  table: number;
  /** The guest's IPv6 address: its rule and route in table 97 exist for IPv6 too. */
  guestAddress6?: string;
}

/** The table, other than main, that holds the default route via `uplink`: set on a netd-style host. */
export function uplinkTable(policy: PolicyState, uplink: string): number | undefined {
  const route = policy.defaults.find((d) => d.dev === uplink && d.table !== 'main' && /^\d+$/.test(d.table));
  return route ? Number(route.table) : undefined;
}

/**
 * On a host whose main table has no default route, the uplink is the network
 * netd routes the host's own unmarked traffic to ("fwmark 0x0/0xffff iif lo
 * lookup <table>"), else the first table with a default route.
 */
export function policyDefaultInterface(policy: PolicyState): string | undefined {
  const others = policy.defaults.filter((d) => d.table !== 'main');
  const defaultNetwork = policy.rules.find((r) => r.iif === 'lo' && r.fwmark === '0' && r.fwmask === '0xffff')?.table;
  return (others.find((d) => d.table === defaultNetwork) ?? others[0])?.dev;
}

/** Whether the host routes by policy the way netd does: no default in main, one in another table. */
export function isNetdStyle(policy: PolicyState): boolean {
  return !policy.defaults.some((d) => d.table === 'main') && policy.defaults.length > 0;
}

function hasRule(rules: PolicyRule[], route: PolicyRoute): boolean {
  return rules.some((r) => r.priority === GUEST_RULE_PRIORITY && r.iif === route.hostIf && r.table === String(route.table));
}

export function hasPolicy(policy: PolicyState, route: PolicyRoute): boolean {
  const ipv4 = hasRule(policy.rules, route) && policy.localNetwork.has(`${route.guestAddress} ${route.hostIf}`);
  const ipv6 =
    route.guestAddress6 === undefined ||
    (hasRule(policy.rules6 ?? [], route) && policy.localNetwork6?.has(`${route.guestAddress6} ${route.hostIf}`) === true);
  return ipv4 && ipv6;
}
