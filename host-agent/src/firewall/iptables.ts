import type { Runner, Step } from '../exec/runner.js';
import type { Forward } from '../forward.js';
import type { Firewall, FirewallState, GuestRule } from './firewall.js';

// Chains the agent owns, each reached by one jump inserted at position 1 of a
// built-in chain, so no DROP of the host's can come first. A guest's rules
// carry the comment guestnet:<host link>. Adding is one iptables-restore
// --noflush transaction; removing is one -D per rule, each allowed to find
// its rule already gone. Guest-to-guest jumps are inserted at the top, ahead
// of every guest's DROP.

type Table = 'filter' | 'nat';
interface Rule {
  table: Table;
  chain: string;
  /** Insert at the top instead of appending. */
  first?: boolean;
  spec: string[];
}

const CHAINS: Record<Table, string[]> = {
  filter: ['GUESTNET-FORWARD', 'GUESTNET-OPEN'],
  nat: ['GUESTNET-POSTROUTING', 'GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'],
};

const JUMPS: Rule[] = [
  { table: 'filter', chain: 'FORWARD', spec: ['-j', 'GUESTNET-FORWARD'] },
  { table: 'nat', chain: 'POSTROUTING', spec: ['-j', 'GUESTNET-POSTROUTING'] },
  { table: 'nat', chain: 'PREROUTING', spec: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'GUESTNET-PREROUTING'] },
  { table: 'nat', chain: 'OUTPUT', spec: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'GUESTNET-OUTPUT'] },
];

const GONE = /Bad rule|does a matching rule exist|No chain\/target\/match|Chain '.*' does not exist|Couldn't load target/;

const tag = (hostIf: string) => ['-m', 'comment', '--comment', `guestnet:${hostIf}`];

function forwardRules(rule: GuestRule, forwards: Forward[]): Rule[] {
  return forwards.flatMap((f) =>
    ['GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'].map((chain) => ({
      table: 'nat' as const,
      chain,
      spec: ['-p', f.protocol, '-m', f.protocol, '--dport', String(f.hostPort), ...tag(rule.hostIf), '-j', 'DNAT', '--to-destination', `${rule.guestAddress}:${f.guestPort}`],
    })),
  );
}

function guestRules(rule: GuestRule): Rule[] {
  const { hostIf: link, uplink } = rule;
  const t = tag(link);
  const forward = (spec: string[], first = false): Rule => ({ table: 'filter', chain: 'GUESTNET-FORWARD', spec, first });
  return [
    ...(rule.openToGuests
      ? [forward(['-i', link, ...t, '-j', 'GUESTNET-OPEN'], true), { table: 'filter' as const, chain: 'GUESTNET-OPEN', spec: ['-o', link, ...t, '-j', 'ACCEPT'] }]
      : []),
    forward(['-i', link, '-o', uplink, ...t, '-j', 'ACCEPT']),
    forward(['-i', uplink, '-o', link, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...t, '-j', 'ACCEPT']),
    forward(['-o', link, '-m', 'conntrack', '--ctstate', 'DNAT', ...t, '-j', 'ACCEPT']),
    forward(['-o', link, ...t, '-j', 'DROP']),
    forward(['-i', link, ...t, '-j', 'DROP']),
    { table: 'nat', chain: 'GUESTNET-POSTROUTING', spec: ['-s', `${rule.guestAddress}/32`, '-o', uplink, ...t, '-j', 'MASQUERADE'] },
    ...forwardRules(rule, rule.forwards),
  ];
}

/** A rule as iptables-save prints it (comments quoted), minus the -A. */
function saved(rule: Rule): string {
  return [rule.chain, ...rule.spec.map((word) => (word.startsWith('guestnet:') ? `"${word}"` : word))].join(' ');
}

function restoreLine(rule: Rule): string {
  return [rule.first ? '-I' : '-A', rule.chain, ...(rule.first ? ['1'] : []), ...rule.spec].join(' ');
}

export function iptables(variant: 'iptables' | 'iptables-legacy'): Firewall {
  const binary = (suffix: string) => `${variant}${suffix}`;

  const restore = (rules: Rule[], createBase: boolean): Step => {
    const input = (['filter', 'nat'] as const).flatMap((table) => [
      `*${table}`,
      ...(createBase ? CHAINS[table].map((chain) => `:${chain} - [0:0]`) : []),
      ...(createBase ? JUMPS.filter((j) => j.table === table).map((j) => `-I ${j.chain} 1 ${j.spec.join(' ')}`) : []),
      ...rules.filter((r) => r.table === table).map(restoreLine),
      'COMMIT',
    ]);
    return { kind: 'run', argv: [binary('-restore'), '--noflush', '-w'], input: `${input.join('\n')}\n` };
  };

  const remove = (rule: Rule): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', rule.table, '-D', rule.chain, ...rule.spec], tolerate: GONE });

  return {
    name: variant,
    tool: { binary: variant, debianPackage: 'iptables' },

    async observe(runner: Runner): Promise<FirewallState> {
      const saves = await Promise.all((['filter', 'nat'] as const).map((table) => runner.read([binary('-save'), '-t', table])));
      const lines = saves.join('\n').split('\n');
      const present = new Set(lines.filter((l) => l.startsWith('-A GUESTNET-')).map((l) => l.slice(3)));
      const guestLinks = new Set([...present].flatMap((l) => /--comment "guestnet:([^"]+)"/.exec(l)?.[1] ?? []));
      return {
        installed: lines.includes(':GUESTNET-FORWARD - [0:0]'),
        guestLinks,
        has: (rule) => guestRules(rule).every((r) => present.has(saved(r))),
      };
    },

    // Whatever part of the guest's rules is already there is removed first,
    // so a repeated add never duplicates a rule.
    addGuest(rule, createBase) {
      const rules = guestRules(rule);
      return [...(createBase ? [] : rules.map(remove)), restore(rules, createBase)];
    },

    removeGuest(rule, removeBase) {
      if (!removeBase) return guestRules(rule).map(remove);
      const chains = (['filter', 'nat'] as const).flatMap((table) => CHAINS[table].map((chain) => ({ table, chain })));
      return [
        ...JUMPS.map(remove),
        ...chains.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-F', chain], tolerate: GONE })),
        ...chains.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-X', chain], tolerate: GONE })),
      ];
    },

    setForwards(rule, before) {
      return [...forwardRules(rule, before).map(remove), restore(forwardRules(rule, rule.forwards), false)];
    },
  };
}
