import type { FirewallContent, FirewallState, GuestRule } from '../model/rules.js';
import type { Reader, Step } from '../model/step.js';
import type { Firewall } from './firewall.js';
import { filter, nat, type Rule, ruleset6, type Table, unique } from './iptables6.js';

// Chains the agent owns, each reached by one jump inserted at position 1 of a
// built-in chain, so no DROP of the host's comes first. Like kube-proxy, every
// change rewrites all of them from the desired state in one
// `iptables-restore --noflush -w`: declaring a chain there flushes it, so the
// result is exact and atomic. Guests share rules through their link family
// (vm_wlan+): the rules grow with families, uplinks, open guests and port
// forwards, not with the number of guests, and so does a packet's path.

const CHAINS: Record<Table, string[]> = {
  filter: ['GUESTNET-FORWARD', 'GUESTNET-OPEN', 'GUESTNET-OPEN-TO', 'GUESTNET-INPUT'],
  nat: ['GUESTNET-POSTROUTING', 'GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'],
};

const JUMPS: Rule[] = [
  { table: 'filter', chain: 'FORWARD', spec: ['-j', 'GUESTNET-FORWARD'] },
  { table: 'filter', chain: 'INPUT', spec: ['-j', 'GUESTNET-INPUT'] },
  { table: 'nat', chain: 'POSTROUTING', spec: ['-j', 'GUESTNET-POSTROUTING'] },
  { table: 'nat', chain: 'PREROUTING', spec: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'GUESTNET-PREROUTING'] },
  { table: 'nat', chain: 'OUTPUT', spec: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'GUESTNET-OUTPUT'] },
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

/** A rule as iptables-save prints it (comments quoted). */
function saved(rule: Rule): string {
  return ['-A', rule.chain, ...rule.spec.map((word) => (word.startsWith('guestnet:') ? `"${word}"` : word))].join(' ');
}

/**
 * What `iptables-save -t filter` and `-t nat` show, as the planner asks about
 * it; with `text6`, ip6tables-save's too. Without it, a guest with IPv6 never
 * counts as complete, which costs a rewrite of the chains, never a miss.
 */
export function parseIptablesSave(text: string, text6?: string): FirewallState {
  const lines = new Set(text.split('\n'));
  const lines6 = new Set(text6?.split('\n') ?? []);
  const chains = (['filter', 'nat'] as const).every((table) => CHAINS[table].every((chain) => lines.has(`:${chain} - [0:0]`)));
  const jumps = JUMPS.every((jump) => lines.has(saved(jump)));
  const has6 = (rule: GuestRule) =>
    !rule.ipv6 || (text6 !== undefined && JUMPS.every((j) => lines6.has(saved(j))) && ruleset6([rule]).every((r) => lines6.has(saved(r))));
  const installed = chains && jumps;
  // A jump that is there would be inserted twice; chains that are there are flushed as they are declared.
  const leftovers = !installed && JUMPS.some((jump) => lines.has(saved(jump)));
  return { installed, leftovers, has: (rule) => ruleset([rule]).every((r) => lines.has(saved(r))) && has6(rule) };
}

/** The guests with IPv6 in a content: ip6tables' chains exist while there are some. */
const withIpv6 = (content: FirewallContent) => (content.installed ? content.guests.filter((g) => g.ipv6) : []);

/** The steps of one family's tool: `binary` is iptables or ip6tables, with its variant. */
function familySteps(binary: (suffix: string) => string, rulesOf: (guests: GuestRule[]) => Rule[]) {
  // Declaring each chain flushes it, so this writes the whole desired state at once.
  const restore = (guests: GuestRule[], withJumps: boolean): Step => {
    const rules = unique(rulesOf(guests), saved);
    const input = (['filter', 'nat'] as const).flatMap((table) => [
      `*${table}`,
      ...CHAINS[table].map((chain) => `:${chain} - [0:0]`),
      ...(withJumps ? JUMPS.filter((j) => j.table === table).map((j) => `-I ${j.chain} 1 ${j.spec.join(' ')}`) : []),
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

  // A base that is only partly there (the host flushed a chain) loses its
  // remaining jumps first, so re-inserting them never duplicates one; a
  // base known to be wholly absent needs no process for that.
  return (beforeInstalled: boolean, after: GuestRule[] | undefined, leftovers = true): Step[] => {
    if (after !== undefined) return [...(beforeInstalled || !leftovers ? [] : JUMPS.map(remove)), restore(after, !beforeInstalled)];
    const chains = (['filter', 'nat'] as const).flatMap((table) => CHAINS[table].map((chain) => ({ table, chain })));
    return [
      ...JUMPS.map(remove),
      ...chains.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-F', chain], tolerate: GONE })),
      ...chains.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-X', chain], tolerate: GONE })),
    ];
  };
}

export function iptables(variant: 'iptables' | 'iptables-legacy'): Firewall {
  const binary = (suffix: string) => `${variant}${suffix}`;
  const binary6 = (suffix: string) => `${variant.replace('iptables', 'ip6tables')}${suffix}`;
  const family4 = familySteps(binary, ruleset);
  const family6 = familySteps(binary6, ruleset6);
  const save = (runner: Reader, tool: (suffix: string) => string) =>
    Promise.all((['filter', 'nat'] as const).map((table) => runner.read([tool('-save'), '-t', table]))).then((saves) => saves.join('\n'));

  return {
    name: variant,
    tool: { binary: variant, debianPackage: 'iptables' },

    // ip6tables is read only for a deep look where guests have IPv6: a fresh attach's adds are idempotent.
    async observe(runner: Reader, deep: boolean, ipv6 = false): Promise<FirewallState> {
      const [text, text6] = await Promise.all([
        save(runner, binary),
        deep && ipv6 ? save(runner, binary6).catch(() => undefined) : undefined,
      ]);
      return parseIptablesSave(text, text6);
    },

    // IPv4's chains always, IPv6's while some guest has IPv6; IPv6's go first on the way out.
    change(before, after) {
      const [was6, now6] = [withIpv6(before), withIpv6(after)];
      const steps6 = now6.length > 0 ? family6(was6.length > 0, now6) : was6.length > 0 ? family6(true, undefined) : [];
      const steps4 = after.installed
        ? family4(before.installed, [...after.guests], before.leftovers === true)
        : family4(before.installed, undefined);
      return after.installed ? [...steps4, ...steps6] : [...steps6, ...steps4];
    },
  };
}
