import { CommandFailedError } from '@guestnet/protocol';
import { hostQueries } from '../model/host-queries.js';
import type { FirewallContent, FirewallState, GuestRule } from '../model/rules.js';
import { NFT_SCRIPT, type Reader, type Step } from '../model/step.js';
import type { Firewall } from './firewall.js';
import { withLocalnet } from './localnet.js';
import { hasShape, parseNftTable, portsPass } from './nft-observe.js';
import { elementsOf, type NftFamily, sharedElementsOf } from './nft-ruleset.js';
import { BASE, NFT4, TABLE } from './nftables4.js';
import { BASE6, NFT6, TABLE6 } from './nftables6.js';

// The nftables backend: guestnet's two tables (nftables4.ts, nftables6.ts),
// changed in one transaction per change, read back in nft-observe.ts.

// "add then delete" in one transaction succeeds whether or not the element (or table) existed.
const addThenDelete = (table: string, element: string) => [`add element ${table} ${element}`, `delete element ${table} ${element}`];
const dropTable = (table: string) => [`add table ${table}`, `delete table ${table}`];

interface Elements {
  /** A guest's own elements. */
  of: (rule: GuestRule) => string[];
  /** Elements guests may share, from all of them. */
  shared: (rules: readonly GuestRule[]) => string[];
}

/**
 * Only the guests whose rule changed are touched: a guest is a few set
 * elements, the rest stay as they are. A shared element goes with the last
 * guest that needs it.
 */
function elementChanges(before: readonly GuestRule[], after: readonly GuestRule[], table: string, elements: Elements): string[] {
  const key = (rule: GuestRule) => JSON.stringify(rule);
  const was = new Map(before.map((g) => [g.hostIf, g]));
  const now = new Map(after.map((g) => [g.hostIf, g]));
  const changed = (rule: GuestRule, other: Map<string, GuestRule>) => {
    const match = other.get(rule.hostIf);
    return match === undefined || key(match) !== key(rule);
  };
  const old = new Set([...before.filter((g) => changed(g, now)).flatMap(elements.of), ...elements.shared(before)]);
  const fresh = new Set([...after.filter((g) => changed(g, was)).flatMap(elements.of), ...elements.shared(after)]);
  return [
    ...[...old].filter((e) => !fresh.has(e)).flatMap((e) => addThenDelete(table, e)),
    ...[...fresh].filter((e) => !old.has(e)).map((e) => `add element ${table} ${e}`),
  ];
}

/** A table made afresh in the transaction: whatever was there of it before goes in the same breath. */
const install = (table: string, base: string, guests: readonly GuestRule[], elements: Elements) => [
  ...dropTable(table),
  base,
  ...[...guests.flatMap(elements.of), ...elements.shared(guests)].map((e) => `add element ${table} ${e}`),
];

const elementsIn = (family: NftFamily): Elements => ({
  of: (rule) => elementsOf(family, rule),
  shared: (rules) => sharedElementsOf(family, rules),
});
const V4 = elementsIn(NFT4);
const V6 = elementsIn(NFT6);

function changes4(before: FirewallContent, after: FirewallContent): string[] {
  if (!after.installed) return before.installed || before.found?.[TABLE] ? dropTable(TABLE) : [];
  if (before.installed) return elementChanges(before.guests, after.guests, TABLE, V4);
  return install(TABLE, BASE, after.guests, V4);
}

/** IPv6's table exists while some guest has IPv6; made fresh, so nothing stale survives in it. */
function changes6(before: FirewallContent, after: FirewallContent): string[] {
  const was = before.installed ? before.guests.filter((g) => g.ipv6) : [];
  const now = after.installed ? after.guests.filter((g) => g.ipv6) : [];
  if (now.length === 0) return was.length > 0 || before.found?.[TABLE6] ? dropTable(TABLE6) : [];
  if (was.length === 0) return install(TABLE6, BASE6, now, V6);
  return elementChanges(was, now, TABLE6, V6);
}

/**
 * The tables exist while some routed guest does: bridged guests' ports need
 * nothing of them (nft-observe.ts, portsPass), so a content of ports alone
 * is no table at all.
 */
const routedOnly = (content: FirewallContent): FirewallContent =>
  content.installed && content.guests.length === 0 ? { ...content, installed: false } : content;

function transaction(lines: string[]): Step {
  return { kind: 'run', argv: [...NFT_SCRIPT], spare: 'nftScript', input: `${lines.join('\n')}\n` };
}

/** A table as JSON, listed by `listing`, or undefined when it does not exist. */
async function listed(listing: Promise<string>): Promise<string | undefined> {
  try {
    return await listing;
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
      // Without its elements, which grow with the guests: whether the table is there, in the shape elements can be added to.
      const terse = await listed(runner.query(hostQueries.nftTableShape));
      if (terse === undefined) return { installed: false, has: () => false, hasPort: portsPass };
      return hasShape(terse)
        ? { installed: true, has: () => false, hasPort: portsPass }
        : { installed: false, found: { [TABLE]: 1 }, has: () => false, hasPort: portsPass };
    }
    const list = (table: string) => listed(runner.read(['nft', '-j', 'list', 'table', ...table.split(' ')]));
    const [text, text6] = await Promise.all([list(TABLE), ipv6 ? list(TABLE6) : undefined]);
    if (text === undefined) return { installed: false, has: () => false, hasPort: portsPass };
    return parseNftTable(text, text6 ?? '');
  },

  // Both families in one transaction: the change is whole or not at all.
  change(wasAny, nowAny) {
    const [before, after] = [routedOnly(wasAny), routedOnly(nowAny)];
    const lines = [...changes4(before, after), ...changes6(before, after)];
    return withLocalnet(before, after, lines.length > 0 ? [transaction(lines)] : []);
  },
};
