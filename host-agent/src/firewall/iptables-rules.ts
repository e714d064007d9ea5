import { type FamilyGuest, unique } from './family.js';

// What both families' iptables rules are made of, and the checks both share.

export type Table = 'filter' | 'nat';
export interface Rule {
  table: Table;
  chain: string;
  spec: string[];
}

/** The options iptables-save prints first, in the order it prints them, whatever order a rule was written in. */
const SAVE_ORDER = ['-s', '-d', '-i', '-o', '-p'];

/**
 * A spec in the order iptables-save prints it: source, destination, in,
 * out, protocol (each with its `!`), then the matches and the target as
 * written. The drift check compares rules with iptables-save's lines, so a
 * rule written in another order would never be seen as in place.
 */
function canonical(spec: string[]): string[] {
  const end = spec.findIndex((word) => word === '-m' || word === '-j' || word === '-g');
  const head = end < 0 ? spec : spec.slice(0, end);
  const options: string[][] = [];
  for (let i = 0; i < head.length; ) {
    const negated = head[i] === '!';
    const length = negated ? 3 : 2;
    options.push(head.slice(i, i + length));
    i += length;
  }
  const rank = (option: string[]) => SAVE_ORDER.indexOf(option[option[0] === '!' ? 1 : 0] ?? '');
  if (options.some((o) => rank(o) < 0)) throw new Error(`unexpected option in iptables rule: ${spec.join(' ')}`);
  return [...options.sort((a, b) => rank(a) - rank(b)).flat(), ...(end < 0 ? [] : spec.slice(end))];
}

const inTable =
  (table: Table) =>
  (chain: string, ...spec: string[]): Rule => ({ table, chain, spec: canonical(spec) });
export const filter = inTable('filter');
export const nat = inTable('nat');

const DNS_FLOOD_LIMIT = [
  '-m',
  'hashlimit',
  '--hashlimit-above',
  '200/sec',
  '--hashlimit-burst',
  '200',
  '--hashlimit-mode',
  'srcip',
  '--hashlimit-name',
  'guestnet-dns',
];

/**
 * DNS to the daemon's forwarder at `gateway` (an address/length) from `link`:
 * a flood over a rate per source is dropped first, before the accept of
 * established traffic (a flood from one UDP port is an established flow once
 * the forwarder answered it once).
 */
export function dnsToGateway(gateway: string, link: string): Rule[] {
  const dns = (p: string, ...action: string[]) =>
    filter('GUESTNET-INPUT', '-d', gateway, '-i', link, '-p', p, '-m', p, '--dport', '53', ...action);
  return [dns('udp', ...DNS_FLOOD_LIMIT, '-j', 'DROP'), dns('udp', '-j', 'ACCEPT'), dns('tcp', '-j', 'ACCEPT')];
}

/** The options whose value iptables-save prints in double quotes, whatever it holds. */
const QUOTED = new Set(['--comment', '--u32']);

/** A rule as iptables-save prints it (comments and u32 tests quoted). */
export function saved(rule: Rule): string {
  return ['-A', rule.chain, ...rule.spec.map((word, i) => (QUOTED.has(rule.spec[i - 1] ?? '') ? `"${word}"` : word))].join(' ');
}

/**
 * GUESTNET-ANTISPOOF, the first check of GUESTNET-FORWARD and GUESTNET-INPUT,
 * so before any accept of the forward chain and before the forwarder: a
 * guest's link carries only that guest's address; a guest's address arriving
 * anywhere else, and anything addressed to a gateway from outside the guests'
 * links, is dropped. This does not rest on the host's rp_filter: the uplink's
 * is the host's to choose (loose or off lets a LAN host claim a guest's
 * address), and `all=2` makes it loose on guest links too. It lives in the
 * filter table, which hosts that use iptables have anyway: a raw table made
 * for it would outlive the last guest. `local` lets a family's local-only
 * traffic (IPv6's neighbour discovery from link-local or unspecified sources)
 * through. Only packets from guest links or with a pool source reach the
 * per-guest rules.
 */
export function antispoofRules(guests: FamilyGuest[], hostBits: number, local: Rule[]): Rule[] {
  const families = unique(
    guests.map((g) => g.linkFamily),
    (f) => f,
  );
  const check = (...spec: string[]) => filter('GUESTNET-ANTISPOOF', ...spec);
  const source = (...spec: string[]) => filter('GUESTNET-SOURCES', ...spec);
  const host = (address: string) => `${address}/${hostBits}`;
  return [
    filter('GUESTNET-FORWARD', '-j', 'GUESTNET-ANTISPOOF'),
    filter('GUESTNET-INPUT', '-j', 'GUESTNET-ANTISPOOF'),
    ...local,
    ...families.flatMap((f) => [check('-i', f, '-j', 'GUESTNET-SOURCES'), check('-i', f, '-j', 'RETURN')]),
    check('-i', 'lo', '-j', 'RETURN'),
    ...unique(guests, (g) => g.pool).map((g) => check('-s', g.pool, '-j', 'GUESTNET-SOURCES')),
    ...unique(guests, (g) => g.gateway).map((g) => check('-d', host(g.gateway), '-j', 'DROP')),
    ...guests.map((g) => source('-i', g.hostIf, '-s', host(g.address), '-j', 'RETURN')),
    ...families.map((f) => source('-i', f, '-j', 'DROP')),
    ...guests.map((g) => source('-s', host(g.address), '-j', 'DROP')),
  ];
}

/**
 * A bridged guest's port, let through GUESTNET-FORWARD just after its jump
 * to GUESTNET-ANTISPOOF. Where br_netfilter hands bridged frames to
 * iptables, every frame crossing a bridge meets the FORWARD chain, and a
 * host that drops forwarded traffic (Docker's policy) would drop the guest's
 * LAN. Only frames bridged from or to the guest's own port pass, and only
 * after the checks before them: the port's lock (exec/port-guard.ts) at the
 * bridge, and the antispoof chain. Other bridges' ports stay the host's.
 */
export const bridgedPortRules = (port: string): Rule[] =>
  ['--physdev-in', '--physdev-out'].map((direction) =>
    filter('GUESTNET-FORWARD', '-m', 'physdev', direction, port, '--physdev-is-bridged', '-j', 'ACCEPT'),
  );
