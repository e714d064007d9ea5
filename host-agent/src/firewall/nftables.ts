import { CommandFailedError } from '@guestnet/protocol';
import type { PortForward } from '../model/port-forward.js';
import type { FirewallContent, FirewallState, GuestRule } from '../model/rules.js';
import type { Reader, Step } from '../model/step.js';
import type { Firewall } from './firewall.js';
import { forwardChain } from './nft-forward.js';
import { BASE6, elements6, forwardEntry6, forwards6, TABLE6 } from './nftables6.js';

// One table the agent owns. Per-guest data lives in sets, so a guest is three
// or four set elements: adding or removing one never rewrites or rescans the rules.
// Its chains only ever accept or drop traffic of guest links; everything else
// falls through untouched to the host's own tables. MSS is clamped to the path
// MTU (cellular and VPN uplinks are small), invalid packets are dropped, and
// guests reach the host itself only with replies, and with DNS to their
// gateway (the daemon's forwarder) over their own link, at a rate per guest
// that keeps one guest's flood from filling the forwarder's socket. The rate
// comes before the accept of established traffic: a flood from one UDP port
// is an established flow once the forwarder has answered it once. A guest
// that reaches another guest's published port is masqueraded to the
// gateway: the other guest would answer it on-link, where it cannot.
const TABLE = 'ip guestnet';

const BASE = `table ${TABLE} {
	set guest_links { type ifname; }
	set forward_pairs { type ifname . ifname; }
	set masquerade_sources { type ipv4_addr . ifname; }
	set open_links { type ifname; }
	set dns_servers { type ifname . ipv4_addr; }
	set dns_rate { type ipv4_addr; flags dynamic; timeout 10s; }
	map port_forwards { type inet_proto . inet_service : ipv4_addr . inet_service; }
	map port_forwards_at { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @port_forwards_at
		fib daddr type local dnat ip to meta l4proto . th dport map @port_forwards
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @port_forwards_at
		fib daddr type local dnat ip to meta l4proto . th dport map @port_forwards
	}
${forwardChain()}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname . ip daddr @dns_servers udp dport 53 update @dns_rate { ip saddr limit rate over 200/second burst 200 packets } drop
		iifname @guest_links ct state established,related accept
		iifname . ip daddr @dns_servers meta l4proto { tcp, udp } th dport 53 accept
		iifname @guest_links drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		iifname @guest_links oifname @guest_links ct status dnat masquerade
		ip saddr . oifname @masquerade_sources masquerade
	}
}`;

/** A forward as its map entry, as `nft -j` prints it back: "[address . ]proto . port : guest . port". */
const forwardEntry = (address: string, f: PortForward) =>
  `${f.hostAddress === undefined ? '' : `${f.hostAddress} . `}${f.protocol} . ${f.hostPort} : ${address} . ${f.guestPort}`;
const forwardElement = (address: string, f: PortForward) =>
  `${f.hostAddress === undefined ? 'port_forwards' : 'port_forwards_at'} { ${forwardEntry(address, f)} }`;

function elements(rule: GuestRule): string[] {
  return [
    `guest_links { "${rule.hostIf}" }`,
    `forward_pairs { "${rule.hostIf}" . "${rule.uplink}" }`,
    `masquerade_sources { ${rule.guestAddress} . "${rule.uplink}" }`,
    `dns_servers { "${rule.hostIf}" . ${rule.gateway} }`,
    ...(rule.openToGuests ? [`open_links { "${rule.hostIf}" }`] : []),
    ...rule.forwards.map((f) => forwardElement(rule.guestAddress, f)),
  ];
}

// "add then delete" in one transaction succeeds whether or not the element (or table) existed.
const addThenDelete = (table: string, element: string) => [`add element ${table} ${element}`, `delete element ${table} ${element}`];
const dropTable = (table: string) => [`add table ${table}`, `delete table ${table}`];

/** Only the guests whose rule changed are touched: a guest is a few set elements, the rest stay as they are. */
function elementChanges(
  before: readonly GuestRule[],
  after: readonly GuestRule[],
  table: string,
  elementsOf: (rule: GuestRule) => string[],
): string[] {
  const key = (rule: GuestRule) => JSON.stringify(rule);
  const was = new Map(before.map((g) => [g.hostIf, g]));
  const now = new Map(after.map((g) => [g.hostIf, g]));
  const changed = (rule: GuestRule, other: Map<string, GuestRule>) => {
    const match = other.get(rule.hostIf);
    return match === undefined || key(match) !== key(rule);
  };
  const old = new Set(before.filter((g) => changed(g, now)).flatMap(elementsOf));
  const fresh = new Set(after.filter((g) => changed(g, was)).flatMap(elementsOf));
  return [
    ...[...old].filter((e) => !fresh.has(e)).flatMap((e) => addThenDelete(table, e)),
    ...[...fresh].filter((e) => !old.has(e)).map((e) => `add element ${table} ${e}`),
  ];
}

function changes4(before: FirewallContent, after: FirewallContent): string[] {
  if (!after.installed) return before.installed ? dropTable(TABLE) : [];
  if (before.installed) return elementChanges(before.guests, after.guests, TABLE, elements);
  return [BASE, ...after.guests.flatMap(elements).map((e) => `add element ${TABLE} ${e}`)];
}

/** IPv6's table exists while some guest has IPv6; made fresh, so nothing stale survives in it. */
function changes6(before: FirewallContent, after: FirewallContent): string[] {
  const was = before.installed ? before.guests.filter((g) => g.ipv6) : [];
  const now = after.installed ? after.guests.filter((g) => g.ipv6) : [];
  if (now.length === 0) return was.length > 0 ? dropTable(TABLE6) : [];
  if (was.length === 0) return [...dropTable(TABLE6), BASE6, ...now.flatMap(elements6).map((e) => `add element ${TABLE6} ${e}`)];
  return elementChanges(was, now, TABLE6, elements6);
}

function transaction(lines: string[]): Step {
  return { kind: 'run', argv: ['nft', '-f', '-'], input: `${lines.join('\n')}\n` };
}

type Key = string | { concat?: Array<string | number> };
type NftSet = { name?: string; table?: string; elem?: Array<Key | [Key, Key]> };

const keyText = (key: Key) => (typeof key === 'string' ? key : (key.concat ?? []).join(' . '));

/** Set members as "a . b", map entries as "a . b : c . d". */
function setMembers(sets: NftSet[], name: string): Set<string> {
  const set = sets.find((s) => s.name === name);
  return new Set((set?.elem ?? []).map((e) => (Array.isArray(e) ? `${keyText(e[0])} : ${keyText(e[1])}` : keyText(e))));
}

const setsOf = (json: string): NftSet[] =>
  ((JSON.parse(json) as { nftables?: Array<{ set?: NftSet; map?: NftSet }> }).nftables ?? []).flatMap((item) => item.set ?? item.map ?? []);

/** Whether IPv6's table holds a guest's IPv6 part, from `nft -j list table ip6 guestnet` ('' when it does not exist). */
function parseNftTable6(json: string): (rule: GuestRule) => boolean {
  const sets = json === '' ? [] : setsOf(json);
  const [links, pairs, sources, masquerades, open, forwards] = [
    'guest_links',
    'forward_pairs',
    'guest_sources',
    'masquerade_sources',
    'open_links',
    'port_forwards',
  ].map((name) => setMembers(sets, name));
  return (rule) => {
    const v6 = rule.ipv6;
    if (!v6) return true;
    return (
      links?.has(rule.hostIf) === true &&
      pairs?.has(`${rule.hostIf} . ${v6.uplink}`) === true &&
      sources?.has(`${rule.hostIf} . ${v6.guestAddress}`) === true &&
      masquerades?.has(`${v6.guestAddress} . ${v6.uplink}`) === v6.masquerade &&
      open?.has(rule.hostIf) === rule.openToGuests &&
      forwards6(rule).every((f) => forwards?.has(forwardEntry6(v6.guestAddress, f)))
    );
  };
}

/** What `nft -j list table ip guestnet` (and IPv6's table) shows, as the planner asks about it. */
export function parseNftTable(json: string, json6 = ''): FirewallState {
  const sets = setsOf(json);
  const has6 = parseNftTable6(json6);
  const links = setMembers(sets, 'guest_links');
  const pairs = setMembers(sets, 'forward_pairs');
  const sources = setMembers(sets, 'masquerade_sources');
  const open = setMembers(sets, 'open_links');
  const dns = setMembers(sets, 'dns_servers');
  const forwards = new Set([...setMembers(sets, 'port_forwards'), ...setMembers(sets, 'port_forwards_at')]);
  return {
    installed: true,
    has: (rule) =>
      links.has(rule.hostIf) &&
      pairs.has(`${rule.hostIf} . ${rule.uplink}`) &&
      sources.has(`${rule.guestAddress} . ${rule.uplink}`) &&
      dns.has(`${rule.hostIf} . ${rule.gateway}`) &&
      open.has(rule.hostIf) === rule.openToGuests &&
      rule.forwards.every((f) => forwards.has(forwardEntry(rule.guestAddress, f))) &&
      has6(rule),
  };
}

/** The table as JSON, or undefined when it does not exist. */
async function listTable(runner: Reader, table: string): Promise<string | undefined> {
  try {
    return await runner.read(['nft', '-j', 'list', 'table', ...table.split(' ')]);
  } catch (error) {
    if (error instanceof CommandFailedError && /No such file or directory/.test(error.stderr)) return undefined;
    throw error;
  }
}

export const nftables: Firewall = {
  name: 'nftables',
  tool: { binary: 'nft', debianPackage: 'nftables' },

  async observe(runner: Reader, deep: boolean, ipv6 = false): Promise<FirewallState> {
    if (!deep) {
      // Listing the table would list every guest's elements.
      const tables = await runner.read(['nft', 'list', 'tables', 'ip']);
      return { installed: new RegExp(`^table ${TABLE}$`, 'm').test(tables), has: () => false };
    }
    const [text, text6] = await Promise.all([listTable(runner, TABLE), ipv6 ? listTable(runner, TABLE6) : undefined]);
    if (text === undefined) return { installed: false, has: () => false };
    return parseNftTable(text, text6 ?? '');
  },

  // Both families in one transaction: the change is whole or not at all.
  change(before, after) {
    const lines = [...changes4(before, after), ...changes6(before, after)];
    return lines.length > 0 ? [transaction(lines)] : [];
  },
};
