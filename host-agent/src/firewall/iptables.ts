import type { FirewallContent, FirewallState, GuestRule } from '../model/rules.js';
import type { Reader, Step } from '../model/step.js';
import type { Firewall } from './firewall.js';
import { antispoofRules, filter, nat, type Rule, saved, sourcesOf, type Table, unique } from './iptables-rules.js';
import { ruleset6 } from './iptables6.js';

// Chains the agent owns, each reached by one jump inserted at position 1 of a
// built-in chain, so no DROP of the host's comes first. Like kube-proxy, every
// change rewrites all of them from the desired state in one
// `iptables-restore --noflush -w`: declaring a chain there flushes it, so the
// result is exact and atomic. Guests share rules through their link family
// (vm_wlan+): the rules grow with families, uplinks, open guests and port
// forwards, and by one source check per guest, which only packets from guest
// links or with a pool source reach.

const TABLES: readonly Table[] = ['filter', 'nat'];

const CHAINS4: Record<Table, string[]> = {
  filter: ['GUESTNET-FORWARD', 'GUESTNET-OPEN', 'GUESTNET-OPEN-TO', 'GUESTNET-INPUT', 'GUESTNET-ANTISPOOF', 'GUESTNET-SOURCES'],
  nat: ['GUESTNET-POSTROUTING', 'GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'],
};
const CHAINS6: Record<Table, string[]> = { ...CHAINS4, filter: [...CHAINS4.filter, 'GUESTNET-ND'] };

const JUMPS: Rule[] = [
  filter('FORWARD', '-j', 'GUESTNET-FORWARD'),
  filter('INPUT', '-j', 'GUESTNET-INPUT'),
  nat('POSTROUTING', '-j', 'GUESTNET-POSTROUTING'),
  nat('PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'GUESTNET-PREROUTING'),
  nat('OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'GUESTNET-OUTPUT'),
];

const GONE = /Bad rule|does a matching rule exist|No chain\/target\/match|Chain '.*' does not exist|Couldn't load target/;

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

/** Everything the agent's chains should hold for `guests`, in order. */
function ruleset(guests: GuestRule[]): Rule[] {
  const families = unique(
    guests.map((g) => g.linkFamily),
    (f) => f,
  );
  const exits = unique(guests, (g) => `${g.linkFamily} ${g.uplink}`);
  const masquerades = unique(guests, (g) => `${g.pool} ${g.uplink}`);
  const open = guests.filter((g) => g.openToGuests);
  const dnsServers = unique(guests, (g) => `${g.linkFamily} ${g.gateway}`);
  const forward = (...spec: string[]) => filter('GUESTNET-FORWARD', ...spec);
  return [
    ...antispoofRules(guests.map(sourcesOf), 32),
    // Cellular and VPN uplinks have small MTUs: clamp every guest connection's MSS to the path.
    ...families.flatMap((f) =>
      ['-i', '-o'].map((dir) =>
        forward(dir, f, '-p', 'tcp', '-m', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu'),
      ),
    ),
    ...families.flatMap((f) => ['-i', '-o'].map((dir) => forward(dir, f, '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'))),
    ...(open.length > 0 ? families.flatMap((from) => families.map((to) => forward('-i', from, '-o', to, '-j', 'GUESTNET-OPEN'))) : []),
    ...exits.flatMap((g) => [
      forward('-i', g.linkFamily, '-o', g.uplink, '-j', 'ACCEPT'),
      forward('-i', g.uplink, '-o', g.linkFamily, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
    ]),
    ...families.flatMap((f) => [
      forward('-o', f, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'),
      forward('-o', f, '-j', 'DROP'),
      forward('-i', f, '-j', 'DROP'),
    ]),
    // Only guests that are both open may talk: the first chain checks the sender, the second the receiver.
    ...open.map((g) => filter('GUESTNET-OPEN', '-i', g.hostIf, '-j', 'GUESTNET-OPEN-TO')),
    ...open.map((g) => filter('GUESTNET-OPEN-TO', '-o', g.hostIf, '-j', 'ACCEPT')),
    // Guests reach the host only with replies, and with DNS to their gateway (the daemon's forwarder),
    // at a rate per guest that keeps one guest's flood from filling the forwarder's socket.
    ...dnsServers.flatMap((g) => {
      const dns = (p: string, ...action: string[]) =>
        filter('GUESTNET-INPUT', '-d', `${g.gateway}/32`, '-i', g.linkFamily, '-p', p, '-m', p, '--dport', '53', ...action);
      return [dns('udp', ...DNS_FLOOD_LIMIT, '-j', 'DROP'), dns('udp', '-j', 'ACCEPT'), dns('tcp', '-j', 'ACCEPT')];
    }),
    ...families.flatMap((f) => [
      filter('GUESTNET-INPUT', '-i', f, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
      filter('GUESTNET-INPUT', '-i', f, '-j', 'DROP'),
    ]),
    ...masquerades.map((g) => nat('GUESTNET-POSTROUTING', '-s', g.pool, '-o', g.uplink, '-j', 'MASQUERADE')),
    // A guest reaching another guest's published port: that guest answers on-link, so the connection must come from the gateway.
    ...unique(guests, (g) => `${g.pool} ${g.linkFamily}`).map((g) =>
      nat('GUESTNET-POSTROUTING', '-s', g.pool, '-o', g.linkFamily, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE'),
    ),
    ...guests.flatMap((g) =>
      g.forwards.flatMap((f) =>
        ['GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'].map((chain) =>
          nat(
            chain,
            ...(f.hostAddress === undefined ? [] : ['-d', `${f.hostAddress}/32`]),
            '-p',
            f.protocol,
            '-m',
            f.protocol,
            '--dport',
            String(f.hostPort),
            '-m',
            'comment',
            '--comment',
            `guestnet:${g.hostIf}`,
            '-j',
            'DNAT',
            '--to-destination',
            `${g.guestAddress}:${f.guestPort}`,
          ),
        ),
      ),
    ),
  ];
}

type Family = '4' | '6';
/** How a jump is named among the hooks found: the same key in observe and in change. */
const hookKey = (family: Family, jump: Rule) => `${family} ${jump.table} ${saved(jump)}`;

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
function familyState(text: string, family: Family, chains: Record<Table, string[]>) {
  const tables = tablesOf(text);
  const count = (rule: Rule) => tables.get(rule.table)?.get(saved(rule)) ?? 0;
  const found = Object.fromEntries(JUMPS.map((j) => [hookKey(family, j), count(j)]).filter(([, n]) => n !== 0));
  const whole =
    TABLES.every((table) => chains[table].every((chain) => tables.get(table)?.has(`:${chain} - [0:0]`))) &&
    JUMPS.every((j) => count(j) === 1);
  return { found, whole, holds: (rules: Rule[]) => rules.every((r) => count(r) > 0) };
}

/**
 * What `iptables-save` shows, as the planner asks about it; with `text6`,
 * ip6tables-save's too. Without it, a guest with IPv6 never counts as
 * complete, which costs a rewrite of the chains, never a miss.
 */
export function parseIptablesSave(text: string, text6?: string): FirewallState {
  const v4 = familyState(text, '4', CHAINS4);
  const v6 = text6 === undefined ? undefined : familyState(text6, '6', CHAINS6);
  const has6 = (rule: GuestRule) => !rule.ipv6 || (v6?.whole === true && v6.holds(ruleset6([rule])));
  const found = { ...v4.found, ...v6?.found };
  return {
    installed: v4.whole,
    ...(Object.keys(found).length > 0 ? { found } : {}),
    has: (rule) => v4.holds(ruleset([rule])) && has6(rule),
  };
}

/** The guests with IPv6 in a content: ip6tables' chains exist while there are some. */
const withIpv6 = (content: FirewallContent) => (content.installed ? content.guests.filter((g) => g.ipv6) : []);

/** The steps of one family's tool: `binary` is iptables or ip6tables, with its variant. */
function familySteps(family: Family, binary: (suffix: string) => string, rulesOf: (guests: GuestRule[]) => Rule[]) {
  const chains = family === '4' ? CHAINS4 : CHAINS6;
  // Declaring each chain flushes it, so this writes the whole desired state at
  // once. Jumps found are deleted and inserted again in the same restore: a
  // packet sees them before or after, never missing.
  const restore = (guests: GuestRule[], jumps: false | Readonly<Record<string, number>>): Step => {
    const rules = unique(rulesOf(guests), saved);
    const line = (verb: string, j: Rule) => [verb, j.chain, ...(verb === '-I' ? ['1'] : []), ...j.spec].join(' ');
    const input = TABLES.flatMap((table) => [
      `*${table}`,
      ...chains[table].map((chain) => `:${chain} - [0:0]`),
      ...(jumps === false
        ? []
        : JUMPS.filter((j) => j.table === table).flatMap((j) => [
            ...Array.from({ length: jumps[hookKey(family, j)] ?? 0 }, () => line('-D', j)),
            line('-I', j),
          ])),
      ...rules.filter((r) => r.table === table).map((r) => ['-A', r.chain, ...r.spec].join(' ')),
      'COMMIT',
    ]);
    return { kind: 'run', argv: [binary('-restore'), '--noflush', '-w'], input: `${input.join('\n')}\n` };
  };

  const remove = (rule: Rule): Step => ({
    kind: 'run',
    argv: [binary(''), '-w', '-t', rule.table, '-D', rule.chain, ...rule.spec],
    tolerate: GONE,
  });

  return (beforeInstalled: boolean, after: GuestRule[] | undefined, found: Readonly<Record<string, number>> = {}): Step[] => {
    if (after !== undefined) return [restore(after, beforeInstalled ? false : found)];
    const owned = TABLES.flatMap((table) => chains[table].map((chain) => ({ table, chain })));
    return [
      ...JUMPS.map(remove),
      ...owned.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-F', chain], tolerate: GONE })),
      ...owned.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-X', chain], tolerate: GONE })),
    ];
  };
}

export function iptables(variant: 'iptables' | 'iptables-legacy'): Firewall {
  const binary = (suffix: string) => `${variant}${suffix}`;
  const binary6 = (suffix: string) => `${variant.replace('iptables', 'ip6tables')}${suffix}`;
  const family4 = familySteps('4', binary, ruleset);
  const family6 = familySteps('6', binary6, ruleset6);

  return {
    name: variant,
    tool: { binary: variant, debianPackage: 'iptables' },

    // One save of every table; ip6tables' only for a deep look where guests have IPv6: a fresh attach's adds are idempotent.
    async observe(runner: Reader, deep: boolean, ipv6 = false): Promise<FirewallState> {
      const [text, text6] = await Promise.all([
        runner.read([binary('-save')]),
        deep && ipv6 ? runner.read([binary6('-save')]).catch(() => undefined) : undefined,
      ]);
      return parseIptablesSave(text, text6);
    },

    // IPv4's chains always, IPv6's while some guest has IPv6; IPv6's go first on the way out.
    change(before, after) {
      const [was6, now6] = [withIpv6(before), withIpv6(after)];
      const steps6 = now6.length > 0 ? family6(was6.length > 0, now6, before.found) : was6.length > 0 ? family6(true, undefined) : [];
      const steps4 = after.installed ? family4(before.installed, [...after.guests], before.found) : family4(before.installed, undefined);
      return after.installed ? [...steps4, ...steps6] : [...steps6, ...steps4];
    },
  };
}
