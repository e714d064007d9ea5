import type { FirewallState, GuestRule } from '../model/rules.js';
import { listed, membersOf, type NftFamily } from './nft-ruleset.js';
import { BASE, NFT4, TABLE } from './nftables4.js';
import { BASE6, NFT6, TABLE6 } from './nftables6.js';

// Reading guestnet's tables back from `nft -j list table`, to compare like
// with like: the set elements a guest's rule puts there, and the table's shape
// (its sets, its chains and how many rules each holds) against the one it is
// made from. A table of another shape (an older version's, or a chain the host
// flushed) counts as not installed, and the install replaces it whole.

type Key = string | number | { concat?: Array<string | number> };
type NftSet = { name?: string; elem?: Array<Key | [Key, Key]> };
type Item = { set?: NftSet; map?: NftSet; chain?: { name?: string }; rule?: { chain?: string } };

const keyText = (key: Key) => (typeof key === 'object' ? (key.concat ?? []).join(' . ') : String(key));

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
  const members = new Map(
    sets.map((set) => [
      set.name,
      new Set((set.elem ?? []).map((e) => (Array.isArray(e) ? `${keyText(e[0])} : ${keyText(e[1])}` : keyText(e)))),
    ]),
  );
  return { shape, members };
}

/** Whether a family's listed table holds a guest's side in it: each member it wants there, none it does not. */
function holder(family: NftFamily, table: ReturnType<typeof tableOf>) {
  return (rule: GuestRule) => {
    const g = family.view(rule);
    if (!g) return true;
    const gateways = table.members.get('gateways');
    return (
      gateways?.has(g.gateway) === true &&
      membersOf(family, g).every((m) => (table.members.get(m.set)?.has(listed(m)) === true) === m.wanted)
    );
  };
}

/** Whether a listing (`nft -j -t` leaves the elements out) shows guestnet's IPv4 table in its current shape. */
export const hasShape = (json: string): boolean => tableOf(json).shape === SHAPE;

/** Bridged guests' ports need nothing of guestnet's tables: their chains accept whatever is not a guest link's. */
export const portsPass = () => true;

/** What `nft -j list table ip guestnet` (and IPv6's table, '' when it does not exist) shows, as the planner asks about it. */
export function parseNftTable(json: string, json6 = ''): FirewallState {
  const table = tableOf(json);
  const table6 = json6 === '' ? undefined : tableOf(json6);
  const found6: Record<string, number> = table6 !== undefined && table6.shape !== SHAPE6 ? { [TABLE6]: 1 } : {};
  if (table.shape !== SHAPE) return { installed: false, found: { [TABLE]: 1, ...found6 }, has: () => false, hasPort: portsPass };
  const has4 = holder(NFT4, table);
  const has6 = table6?.shape === SHAPE6 ? holder(NFT6, table6) : (rule: GuestRule) => !rule.ipv6;
  return {
    installed: true,
    ...(Object.keys(found6).length > 0 ? { found: found6 } : {}),
    has: (rule) => has4(rule) && has6(rule),
    hasPort: portsPass,
  };
}
