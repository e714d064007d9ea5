import { hostQueries } from '../model/host-queries.js';
import type { FirewallContent, GuestRule } from '../model/rules.js';
import { type Reader, SPARE_COMMANDS, type SpareCommand, type Step } from '../model/step.js';
import type { Firewall, Read6 } from './firewall.js';
import { unique } from './family.js';
import { type Rule, saved } from './iptables-rules.js';
import { type IptablesFamily, ruleset } from './iptables-ruleset.js';
import { hasPieces, markersToMake, removeMade } from './iptables-made.js';
import { hookKey, parseIptablesSave, TABLES } from './iptables-save.js';
import { IPTABLES4 } from './iptables4.js';
import { IPTABLES6 } from './iptables6.js';
import { withLocalnet } from './localnet.js';

// Chains the agent owns, each reached by one jump inserted at position 1 of a
// built-in chain, so no DROP of the host's comes first. Like kube-proxy, every
// change rewrites all of them from the desired state in one
// `iptables-restore --noflush -w`: declaring a chain there flushes it, so the
// result is exact and atomic. Guests share rules through their link family
// (vm_wlan+): the rules grow with families, uplinks, open guests and port
// forwards, and by one source check per guest, which only packets from guest
// links or with a pool source reach.

const GONE = /Bad rule|does a matching rule exist|No chain\/target\/match|Chain '.*' does not exist|Couldn't load target/;

/** ip6tables' chains exist while some guest has IPv6, or some bridged guest's port is let through (bridged frames meet both). */
const needsIpv6 = (content: FirewallContent) =>
  content.installed && (content.guests.some((g) => g.ipv6) || content.bridgedPorts.length > 0);

/** What one family's chains hold: the guests' rules and the bridged guests' ports. */
interface Wanted {
  guests: readonly GuestRule[];
  ports: readonly string[];
}

const wanted = (content: FirewallContent): Wanted => ({ guests: content.guests, ports: content.bridgedPorts });

// A match the kernel or iptables lacks: iptables-nft says "Extension X revision N not supported", legacy "Couldn't load match `X'".
const lacking = (matches: string) => new RegExp(`Extension (${matches}) revision \\d+ not supported|Couldn't load match \`(${matches})'`);

/** The matches of guestnet's DNS and DHCP rules: the restore then changes nothing. */
const MISSING_MATCH = {
  when: lacking('u32|mac|hashlimit'),
  message:
    'this kernel or iptables lacks the u32, mac or hashlimit match (CONFIG_NETFILTER_XT_MATCH_U32, _MAC, _HASHLIMIT) ' +
    "that guestnet's DNS and DHCP rules need; nothing was changed",
};

/** The same, where a bridged guest's port is let through, which needs physdev too. */
const MISSING_MATCH_WITH_PORTS = {
  when: lacking('u32|mac|hashlimit|physdev'),
  message:
    "this kernel or iptables lacks the u32, mac or hashlimit match that guestnet's DNS and DHCP rules need, or the physdev " +
    "match (xt_physdev, CONFIG_NETFILTER_XT_MATCH_PHYSDEV) that lets a bridged guest's port through FORWARD; nothing was changed",
};

/** The steps of one family's tool: `binary` is iptables or ip6tables, with its variant. */
function familySteps(family: IptablesFamily, binary: (suffix: string) => string, marks: boolean, restoreCommand: SpareCommand) {
  const { chains, jumps: hooks } = family;
  // Declaring each chain flushes it, so this writes the whole desired state at
  // once. Jumps found are deleted and inserted again in the same restore: a
  // packet sees them before or after, never missing.
  const restore = ({ guests, ports }: Wanted, jumps: false | Readonly<Record<string, number>>): Step => {
    const rules = unique(ruleset(family, guests, ports), saved);
    const line = (verb: string, j: Rule) => [verb, j.chain, ...(verb === '-I' ? ['1'] : []), ...j.spec].join(' ');
    const input = TABLES.flatMap((table) => [
      `*${table}`,
      ...chains[table].map((chain) => `:${chain} - [0:0]`),
      ...(jumps !== false && marks ? markersToMake(family.name, table, hooks, jumps).map((chain) => `:${chain} - [0:0]`) : []),
      ...(jumps === false
        ? []
        : hooks
            .filter((j) => j.table === table)
            .flatMap((j) => [...Array.from({ length: jumps[hookKey(family, j)] ?? 0 }, () => line('-D', j)), line('-I', j)])),
      ...rules.filter((r) => r.table === table).map((r) => ['-A', r.chain, ...r.spec].join(' ')),
      'COMMIT',
    ]);
    return {
      kind: 'run',
      argv: [...SPARE_COMMANDS[restoreCommand]],
      spare: restoreCommand,
      input: `${input.join('\n')}\n`,
      unsupported: ports.length > 0 ? MISSING_MATCH_WITH_PORTS : MISSING_MATCH,
    };
  };

  const remove = (rule: Rule): Step => ({
    kind: 'run',
    argv: [binary(''), '-w', '-t', rule.table, '-D', rule.chain, ...rule.spec],
    tolerate: GONE,
  });

  // `undone`: when removing, what was absent before the install this undoes (iptables-made.ts).
  return (beforeInstalled: boolean, after: Wanted | undefined, found: Readonly<Record<string, number>> = {}, undone = {}): Step[] => {
    if (after !== undefined) return [restore(after, beforeInstalled ? false : found)];
    const owned = TABLES.flatMap((table) => chains[table].map((chain) => ({ table, chain })));
    // Every copy of a jump found goes (the host may have doubled one), or deleting its chain would fail.
    const copies = (j: Rule) => Array.from({ length: Math.max(1, found[hookKey(family, j)] ?? 1) }, () => remove(j));
    return [
      ...hooks.flatMap(copies),
      ...owned.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-F', chain], tolerate: GONE })),
      ...owned.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-X', chain], tolerate: GONE })),
      ...(marks ? removeMade(family.name, TABLES, hooks, binary(''), found, undone) : []),
    ];
  };
}

/**
 * The built-in chains of ip's tables, as "nat PREROUTING"; undefined where nft
 * cannot tell. A query the daemon remembers, as it does iptables-save's: the
 * first guest's attach then plans without a process of its own.
 */
async function builtinChains(runner: Reader): Promise<Set<string> | undefined> {
  try {
    const items =
      (
        JSON.parse(await runner.query(hostQueries.nftChains4)) as {
          nftables?: Array<{ chain?: { table: string; name: string; hook?: string } }>;
        }
      ).nftables ?? [];
    return new Set(items.flatMap(({ chain }) => (chain?.hook ? [`${chain.table} ${chain.name}`] : [])));
  } catch {
    return undefined;
  }
}

export function iptables(variant: 'iptables' | 'iptables-legacy'): Firewall {
  const binary = (suffix: string) => `${variant}${suffix}`;
  const binary6 = (suffix: string) => `${variant.replace('iptables', 'ip6tables')}${suffix}`;
  // iptables-legacy's tables and built-in chains are there from the start: only iptables-nft makes them (iptables-made.ts).
  const marks = variant === 'iptables';
  const family4 = familySteps(IPTABLES4, binary, marks, `${variant}-restore`);
  const family6 = familySteps(IPTABLES6, binary6, marks, `${variant === 'iptables' ? 'ip6tables' : 'ip6tables-legacy'}-restore`);

  return {
    name: variant,
    tool: { binary: variant, debianPackage: 'iptables' },

    // One save of every table; ip6tables' only for a deep look where guests have IPv6, a fresh attach's adds being idempotent,
    // wherever a bridged guest's port is at stake (bridged attaches are rare and never hot), and with iptables-nft where
    // ip6tables' chains come or go: what iptables-nft makes for them is marked, and goes with them (iptables-made.ts).
    async observe(runner: Reader, deep: boolean, ipv6 = false, read6: Read6 = {}) {
      const with6 = (deep && ipv6) || read6.ports === true || (marks && read6.chains === true);
      const [text, text6] = await Promise.all([
        runner.query(variant === 'iptables' ? hostQueries.iptablesSave : hostQueries.iptablesLegacySave),
        with6
          ? runner.query(variant === 'iptables' ? hostQueries.ip6tablesSave : hostQueries.ip6tablesLegacySave).catch(() => undefined)
          : undefined,
      ]);
      if (!marks) return parseIptablesSave(text, text6);
      // Before the first install only: which of ip's built-in chains exist, so that those guestnet makes are marked.
      const installed = parseIptablesSave(text, text6, {});
      return installed.installed ? installed : parseIptablesSave(text, text6, { chains: await builtinChains(runner) });
    },

    // IPv4's chains always, IPv6's while some guest has IPv6 or a bridged port; IPv6's go first on the way out.
    change(before, after) {
      // Nothing of guestnet's there, only what was absent (iptables-made.ts): nothing to remove.
      if (!before.installed && !after.installed && !hasPieces(before.found)) return [];
      const [was6, now6] = [needsIpv6(before), needsIpv6(after)];
      const steps6 = now6 ? family6(was6, wanted(after), before.found) : was6 ? family6(true, undefined, before.found, after.found) : [];
      const steps4 = family4(before.installed, after.installed ? wanted(after) : undefined, before.found, after.found);
      return withLocalnet(before, after, after.installed ? [...steps4, ...steps6] : [...steps6, ...steps4]);
    },
  };
}
