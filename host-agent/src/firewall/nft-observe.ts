import type { FirewallState, GuestRule } from '../model/rules.js';
import { BASE, forwardEntry, TABLE } from './nftables4.js';
import { BASE6, forwardEntry6, forwards6, TABLE6 } from './nftables6.js';

// Reading guestnet's tables back from `nft -j list table`, to compare like
// with like: the set elements a guest's rule puts there, and the table's shape
// (its sets, its chains and how many rules each holds) against the one it is
// made from. A table of another shape (an older version's, or a chain the host
// flushed) counts as not installed, and the install replaces it whole.

type Key = string | { concat?: Array<string | number> };
type NftSet = { name?: string; elem?: Array<Key | [Key, Key]> };
type Item = { set?: NftSet; map?: NftSet; chain?: { name?: string }; rule?: { chain?: string } };

const keyText = (key: Key) => (typeof key === 'string' ? key : (key.concat ?? []).join(' . '));

/** What a table definition holds: its sets and maps by name, and each chain with its number of rules. */
function shapeOf(base: string): string[] {
  const sets = [...base.matchAll(/^\t(?:set|map) (\w+) /gm)].map((m) => `set ${m[1]}`);
  const chains = [...base.matchAll(/^\tchain (\w+) \{\n\t\ttype [^\n]*\n([\s\S]*?)\n\t\}/gm)].map(
    (m) => `chain ${m[1]} ${(m[2] ?? '').split('\n').filter((line) => line.trim() !== '').length}`,
  );
  return [...sets, ...chains].sort();
}

const SHAPE = shapeOf(BASE).join('\n');
const SHAPE6 = shapeOf(BASE6).join('\n');

function tableOf(json: string) {
  const items = (JSON.parse(json) as { nftables?: Item[] }).nftables ?? [];
  const sets = items.flatMap((item) => item.set ?? item.map ?? []);
  const rules = new Map<string, number>();
  for (const { rule } of items) if (rule?.chain) rules.set(rule.chain, (rules.get(rule.chain) ?? 0) + 1);
  const shape = [
    ...sets.map((s) => `set ${s.name}`),
    ...items.flatMap((item) => (item.chain ? [`chain ${item.chain.name} ${rules.get(item.chain.name ?? '') ?? 0}`] : [])),
  ]
    .sort()
    .join('\n');
  /** Set members as "a . b", map entries as "a . b : c . d". */
  const members = (name: string) => {
    const set = sets.find((s) => s.name === name);
    return new Set((set?.elem ?? []).map((e) => (Array.isArray(e) ? `${keyText(e[0])} : ${keyText(e[1])}` : keyText(e))));
  };
  return { shape, members };
}

/** Whether IPv6's table holds a guest's IPv6 part, from `nft -j list table ip6 guestnet` ('' when it does not exist). */
function parseNftTable6(json: string): (rule: GuestRule) => boolean {
  if (json === '') return (rule) => !rule.ipv6;
  const table = tableOf(json);
  if (table.shape !== SHAPE6) return (rule) => !rule.ipv6;
  const [links, pairs, sources, addresses, gateways, masquerades, open, forwards] = [
    'guest_links',
    'forward_pairs',
    'guest_sources',
    'guest_addresses',
    'gateways',
    'masquerade_sources',
    'open_links',
    'port_forwards',
  ].map((name) => table.members(name)) as Array<Set<string>>;
  return (rule) => {
    const v6 = rule.ipv6;
    if (!v6) return true;
    return (
      links?.has(rule.hostIf) === true &&
      pairs?.has(`${rule.hostIf} . ${v6.uplink}`) === true &&
      sources?.has(`${rule.hostIf} . ${v6.guestAddress}`) === true &&
      addresses?.has(v6.guestAddress) === true &&
      gateways?.has(v6.gateway) === true &&
      masquerades?.has(`${v6.guestAddress} . ${v6.uplink}`) === v6.masquerade &&
      open?.has(rule.hostIf) === rule.openToGuests &&
      forwards6(rule).every((f) => forwards?.has(forwardEntry6(v6.guestAddress, f)))
    );
  };
}

/** Whether a listing (`nft -j -t` leaves the elements out) shows guestnet's IPv4 table in its current shape. */
export const hasShape = (json: string): boolean => tableOf(json).shape === SHAPE;

/** What `nft -j list table ip guestnet` (and IPv6's table) shows, as the planner asks about it. */
export function parseNftTable(json: string, json6 = ''): FirewallState {
  const table = tableOf(json);
  const found6: Record<string, number> = json6 !== '' && tableOf(json6).shape !== SHAPE6 ? { [TABLE6]: 1 } : {};
  if (table.shape !== SHAPE) return { installed: false, found: { [TABLE]: 1, ...found6 }, has: () => false };
  const has6 = parseNftTable6(json6);
  const [links, pairs, guestSources, addresses, gateways, sources, open, dns] = [
    'guest_links',
    'forward_pairs',
    'guest_sources',
    'guest_addresses',
    'gateways',
    'masquerade_sources',
    'open_links',
    'dns_servers',
  ].map((name) => table.members(name)) as Array<Set<string>>;
  const forwards = new Set([...table.members('port_forwards'), ...table.members('port_forwards_at')]);
  return {
    installed: true,
    ...(Object.keys(found6).length > 0 ? { found: found6 } : {}),
    has: (rule) =>
      links?.has(rule.hostIf) === true &&
      pairs?.has(`${rule.hostIf} . ${rule.uplink}`) === true &&
      guestSources?.has(`${rule.hostIf} . ${rule.guestAddress}`) === true &&
      addresses?.has(rule.guestAddress) === true &&
      gateways?.has(rule.gateway) === true &&
      sources?.has(`${rule.guestAddress} . ${rule.uplink}`) === true &&
      dns?.has(`${rule.hostIf} . ${rule.gateway}`) === true &&
      open?.has(rule.hostIf) === rule.openToGuests &&
      rule.forwards.every((f) => forwards.has(forwardEntry(rule.guestAddress, f))) &&
      has6(rule),
  };
}
