import { LOCAL_NETWORK_TABLE } from './policy.js';
import { NFT_TABLE_NAME } from './rules.js';

/**
 * What keeps a remembered answer true; the daemon remembers answers
 * (daemon/memory.ts), the one-shot CLI reads afresh.
 * - `kernel-events`: it changes only with a link, route or rule event, which
 *   the daemon's monitor hears, or with a command of ours.
 * - `checking-loop`: the firewall, which others change without an event: it
 *   is remembered for attaches until the next event or command of ours, and
 *   the loop that checks the host every second reads it afresh.
 * A read that fails with an exit code (a table that does not exist) is an answer too.
 */
export type Freshness = 'kernel-events' | 'checking-loop';

/** A read of the host whose answer may be remembered, asked for by name (Reader.query), never by its argv. */
export interface HostQuery {
  readonly name: string;
  readonly argv: readonly string[];
  readonly keptFreshBy: Freshness;
  /**
   * What a failed read says when the thing read does not exist: that is an
   * answer too, remembered as a success would be. A kernel-events query's
   * failure that exited is always one (see Freshness).
   */
  readonly absentWhen?: RegExp;
}

/** What `nft list table` says of a table that does not exist (firewall/nftables.ts reads it so too). */
export const NFT_NO_TABLE = /No such file or directory/;

const ipJson = (family: '-4' | '-6', ...what: string[]) => ['ip', family, '-j', ...what];

const declared = {
  /** The default routes of every table, IPv4: where the uplinks are. */
  defaultRoutes4: { keptFreshBy: 'kernel-events', argv: ipJson('-4', 'route', 'show', 'table', 'all', 'default') },
  defaultRoutes6: { keptFreshBy: 'kernel-events', argv: ipJson('-6', 'route', 'show', 'table', 'all', 'default') },
  /** The main table's IPv4 routes. */
  mainRoutes4: { keptFreshBy: 'kernel-events', argv: ipJson('-4', 'route', 'show') },
  /** Every link of the host's netns, with its alias, MTU, group and flags. */
  links: { keptFreshBy: 'kernel-events', argv: ['ip', '-j', 'link', 'show'] },
  /** Every link with its details (what a NIC is, model/nic.ts) and its addresses: what a phys attach saves to give back. */
  linkDetails: { keptFreshBy: 'kernel-events', argv: ['ip', '-d', '-j', 'address', 'show'] },
  /** The policy rules, each family's. */
  rules4: { keptFreshBy: 'kernel-events', argv: ipJson('-4', 'rule', 'show') },
  rules6: { keptFreshBy: 'kernel-events', argv: ipJson('-6', 'rule', 'show') },
  /** The guests' local table (model/policy.ts), each family's. */
  localNetworkRoutes4: { keptFreshBy: 'kernel-events', argv: ipJson('-4', 'route', 'show', 'table', String(LOCAL_NETWORK_TABLE)) },
  localNetworkRoutes6: { keptFreshBy: 'kernel-events', argv: ipJson('-6', 'route', 'show', 'table', String(LOCAL_NETWORK_TABLE)) },
  /** Which nftables tables exist: whose rules the host uses (firewall/select.ts). */
  nftTables: { keptFreshBy: 'checking-loop', argv: ['nft', 'list', 'tables'] },
  /** guestnet's IPv4 table without its set elements: whether it is there, in its shape. */
  nftTableShape: {
    keptFreshBy: 'checking-loop',
    argv: ['nft', '-j', '-t', 'list', 'table', ...NFT_TABLE_NAME.split(' ')],
    absentWhen: NFT_NO_TABLE,
  },
  /** ip's chains in nftables, built-in ones with their hook: which of them iptables-nft has made so far (firewall/iptables-made.ts). */
  nftChains4: { keptFreshBy: 'checking-loop', argv: ['nft', '-j', 'list', 'chains', 'ip'] },
  /** Every iptables table, of iptables-nft and of iptables-legacy. */
  iptablesSave: { keptFreshBy: 'checking-loop', argv: ['iptables-save'] },
  iptablesLegacySave: { keptFreshBy: 'checking-loop', argv: ['iptables-legacy-save'] },
  /** ip6tables' the same: read where IPv6's chains matter (firewall/iptables.ts, observe). */
  ip6tablesSave: { keptFreshBy: 'checking-loop', argv: ['ip6tables-save'] },
  ip6tablesLegacySave: { keptFreshBy: 'checking-loop', argv: ['ip6tables-legacy-save'] },
} satisfies Record<string, Omit<HostQuery, 'name'>>;

/** Each query under its own name. */
function named<Table extends Record<string, Omit<HostQuery, 'name'>>>(table: Table): { readonly [Name in keyof Table]: HostQuery } {
  const queries: Record<string, HostQuery> = {};
  for (const [name, query] of Object.entries(table)) queries[name] = { name, ...query };
  return queries as { readonly [Name in keyof Table]: HostQuery };
}

/** The host model's queries, in one place. */
export const hostQueries = named(declared);
