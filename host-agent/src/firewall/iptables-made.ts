import type { Step } from '../model/step.js';
import type { FamilyName } from './family.js';
import { type Rule, saved, type Table } from './iptables-rules.js';

// iptables-nft makes a table, and each built-in chain of it, when a rule
// first needs one, and never removes them: after the last guest, empty
// chains (and tables) that only guestnet needed would stay behind. What it
// made is marked at install by an empty chain of its own in the same table,
// GUESTNET-MADE-<CHAIN> for a built-in chain and GUESTNET-MADE-TABLE for the
// table, as kube-proxy marks its own with a canary chain. The last removal
// deletes what is marked, and only while it holds nothing of anyone else's;
// what existed before guestnet is never marked, so it stays. iptables-legacy
// has every built-in chain of a loaded table from the start: nothing to mark.

const TABLE_MARK = 'TABLE';
const marker = (name: string) => `GUESTNET-MADE-${name}`;
const MARKER = /^:GUESTNET-MADE-(\S+) /;

/** Where `found` says what is absent before install, and what is marked and may go at removal. */
const absentKey = (family: FamilyName, table: Table, chain = TABLE_MARK) => `${family} absent ${table} ${chain}`;
const markedKey = (family: FamilyName, table: Table, name: string) => `${family} marked ${table} ${name}`;
const removableKey = (family: FamilyName, table: Table, name: string) => `${family} removable ${table} ${name}`;

/**
 * What a save shows of it: before install, the tables and hooked built-in
 * chains that are absent (`chains`, from nft's listing, names the built-in
 * chains that exist; without it, only whole tables count); at removal, the
 * markers, and which marked pieces hold nothing but guestnet's.
 */
export function madeState(
  family: FamilyName,
  tables: Map<string, Map<string, number>>,
  hooks: readonly Rule[],
  chains?: ReadonlySet<string>,
): Record<string, number> {
  const found: Record<string, number> = {};
  const ours = new Set(hooks.map(saved));
  for (const table of new Set(hooks.map((h) => h.table))) {
    const lines = tables.get(table);
    if (!lines) {
      found[absentKey(family, table)] = 1;
      continue;
    }
    for (const hook of hooks.filter((h) => h.table === table))
      if (chains && !chains.has(`${table} ${hook.chain}`)) found[absentKey(family, table, hook.chain)] = 1;
    const others = (chain: string) =>
      [...lines.keys()].some(
        (l) => (l.startsWith(`-A ${chain} `) && !ours.has(l)) || (l.startsWith(`:${chain} `) && !l.startsWith(`:${chain} ACCEPT `)),
      );
    const alone = [...lines.keys()].every(
      (l) =>
        l === '' ||
        l === 'COMMIT' ||
        l.startsWith('#') ||
        l.startsWith(':GUESTNET-') ||
        l.startsWith('-A GUESTNET-') ||
        ours.has(l) ||
        / ACCEPT \[/.test(l),
    );
    for (const line of lines.keys()) {
      const name = MARKER.exec(line)?.[1];
      if (name === undefined) continue;
      found[markedKey(family, table, name)] = 1;
      if (name === TABLE_MARK ? alone : !others(name)) found[removableKey(family, table, name)] = 1;
    }
  }
  return found;
}

/** The markers an install declares, by table: for what `found` says is absent. */
export function markersToMake(family: FamilyName, table: Table, hooks: readonly Rule[], found: Readonly<Record<string, number>>): string[] {
  const hooked = hooks.filter((h) => h.table === table).map((h) => h.chain);
  if (found[absentKey(family, table)]) return [TABLE_MARK, ...hooked].map(marker);
  return hooked.filter((chain) => found[absentKey(family, table, chain)]).map(marker);
}

const NFT_GONE = /No such file or directory|Device or resource busy/;

/** Whether `found` holds pieces of guestnet's (jumps, markers) rather than only what was absent before install. */
export const hasPieces = (found: Readonly<Record<string, number>> = {}) => Object.keys(found).some((key) => !key.includes(' absent '));

/**
 * After guestnet's chains are gone: what it made and marked, where nothing
 * else uses it (nft refuses to delete a chain with rules). `observed`: the
 * markers seen; `undone`: what was absent before an install this removal
 * undoes, whose markers were never seen.
 */
export function removeMade(
  family: FamilyName,
  tables: readonly Table[],
  hooks: readonly Rule[],
  binary: string,
  observed: Readonly<Record<string, number>> = {},
  undone: Readonly<Record<string, number>> = {},
): Step[] {
  const nftFamily = family === '4' ? 'ip' : 'ip6';
  return tables.flatMap((table): Step[] => {
    if (observed[removableKey(family, table, TABLE_MARK)])
      return [{ kind: 'run', argv: ['nft', 'delete', 'table', nftFamily, table], tolerate: NFT_GONE }];
    const prefix = markedKey(family, table, '');
    const marked = Object.keys(observed).flatMap((key) => (key.startsWith(prefix) ? [key.slice(prefix.length)] : []));
    const made = markersToMake(family, table, hooks, undone).map((m) => m.slice(marker('').length));
    const names = [...new Set([...marked, ...made])];
    const chains = names.filter((name) => name !== TABLE_MARK && (observed[removableKey(family, table, name)] || made.includes(name)));
    return [
      ...names.map(
        (name): Step => ({ kind: 'run', argv: [binary, '-w', '-t', table, '-X', marker(name)], tolerate: /No chain|does not exist/ }),
      ),
      ...chains.map((chain): Step => ({ kind: 'run', argv: ['nft', 'delete', 'chain', nftFamily, table, chain], tolerate: NFT_GONE })),
    ];
  });
}
