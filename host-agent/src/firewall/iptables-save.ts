import type { FirewallState, GuestRule } from '../model/rules.js';
import { bridgedPortRules, type Rule, saved, type Table } from './iptables-rules.js';
import { madeState } from './iptables-made.js';
import { type IptablesFamily, ruleset } from './iptables-ruleset.js';
import { IPTABLES4 } from './iptables4.js';
import { IPTABLES6 } from './iptables6.js';

// Reading guestnet's chains back from iptables-save, to compare like with
// like: each rule as iptables-save prints it.

export const TABLES: readonly Table[] = ['filter', 'nat'];

/** How a jump is named among the hooks found: the same key in observe and in change. */
export const hookKey = (family: IptablesFamily, jump: Rule) => `${family.name} ${jump.table} ${saved(jump)}`;

/** iptables-save's lines by table, each line with how often it occurs. */
function tablesOf(text: string): Map<string, Map<string, number>> {
  const tables = new Map<string, Map<string, number>>();
  let lines = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      lines = new Map();
      tables.set(line.slice(1), lines);
    } else lines.set(line, (lines.get(line) ?? 0) + 1);
  }
  return tables;
}

/** One family's save, as the checks need it: whether its chains are there, its jumps counted, and whether rules are in place. */
function familyState(text: string, family: IptablesFamily, made?: Made) {
  const tables = tablesOf(text);
  const count = (rule: Rule) => tables.get(rule.table)?.get(saved(rule)) ?? 0;
  const found = {
    ...Object.fromEntries(family.jumps.map((j) => [hookKey(family, j), count(j)]).filter(([, n]) => n !== 0)),
    ...(made ? madeState(family.name, tables, family.jumps, made.chains) : {}),
  };
  const whole =
    TABLES.every((table) => family.chains[table].every((chain) => tables.get(table)?.has(`:${chain} - [0:0]`))) &&
    family.jumps.every((j) => count(j) === 1);
  return { found, whole, holds: (rules: Rule[]) => rules.every((r) => count(r) > 0) };
}

/** iptables-nft's: what guestnet made is looked for (iptables-made.ts); `chains`: the built-in chains of ip's tables, "nat PREROUTING". */
export interface Made {
  chains?: ReadonlySet<string>;
}

/**
 * What `iptables-save` shows, as the planner asks about it; with `text6`,
 * ip6tables-save's too. Without it, a guest with IPv6 or a bridged guest's
 * port never counts as complete, which costs a rewrite of the chains, never
 * a miss.
 */
export function parseIptablesSave(text: string, text6?: string, made?: Made): FirewallState {
  const v4 = familyState(text, IPTABLES4, made);
  const v6 = text6 === undefined ? undefined : familyState(text6, IPTABLES6, made && {});
  const has6 = (rule: GuestRule) => !rule.ipv6 || (v6?.whole === true && v6.holds(ruleset(IPTABLES6, [rule])));
  const found = { ...v4.found, ...v6?.found };
  // Bridged frames meet ip6tables as they meet iptables: a port is let through in both.
  const port = (name: string, state: typeof v4 | undefined) => state?.whole === true && state.holds(bridgedPortRules(name));
  return {
    installed: v4.whole,
    ...(Object.keys(found).length > 0 ? { found } : {}),
    has: (rule) => v4.holds(ruleset(IPTABLES4, [rule])) && has6(rule),
    hasPort: (name) => port(name, v4) && port(name, v6),
  };
}
