import type { FirewallContent, GuestRule } from '../model/rules.js';
import type { Reader, Step } from '../model/step.js';
import type { Firewall } from './firewall.js';
import { unique } from './family.js';
import { type Rule, saved } from './iptables-rules.js';
import { type IptablesFamily, ruleset } from './iptables-ruleset.js';
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

/** The guests with IPv6 in a content: ip6tables' chains exist while there are some. */
const withIpv6 = (content: FirewallContent) => (content.installed ? content.guests.filter((g) => g.ipv6) : []);

/** The steps of one family's tool: `binary` is iptables or ip6tables, with its variant. */
function familySteps(family: IptablesFamily, binary: (suffix: string) => string) {
  const { chains, jumps: hooks } = family;
  // Declaring each chain flushes it, so this writes the whole desired state at
  // once. Jumps found are deleted and inserted again in the same restore: a
  // packet sees them before or after, never missing.
  const restore = (guests: GuestRule[], jumps: false | Readonly<Record<string, number>>): Step => {
    const rules = unique(ruleset(family, guests), saved);
    const line = (verb: string, j: Rule) => [verb, j.chain, ...(verb === '-I' ? ['1'] : []), ...j.spec].join(' ');
    const input = TABLES.flatMap((table) => [
      `*${table}`,
      ...chains[table].map((chain) => `:${chain} - [0:0]`),
      ...(jumps === false
        ? []
        : hooks
            .filter((j) => j.table === table)
            .flatMap((j) => [...Array.from({ length: jumps[hookKey(family, j)] ?? 0 }, () => line('-D', j)), line('-I', j)])),
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
      ...hooks.map(remove),
      ...owned.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-F', chain], tolerate: GONE })),
      ...owned.map(({ table, chain }): Step => ({ kind: 'run', argv: [binary(''), '-w', '-t', table, '-X', chain], tolerate: GONE })),
    ];
  };
}

export function iptables(variant: 'iptables' | 'iptables-legacy'): Firewall {
  const binary = (suffix: string) => `${variant}${suffix}`;
  const binary6 = (suffix: string) => `${variant.replace('iptables', 'ip6tables')}${suffix}`;
  const family4 = familySteps(IPTABLES4, binary);
  const family6 = familySteps(IPTABLES6, binary6);

  return {
    name: variant,
    tool: { binary: variant, debianPackage: 'iptables' },

    // One save of every table; ip6tables' only for a deep look where guests have IPv6: a fresh attach's adds are idempotent.
    async observe(runner: Reader, deep: boolean, ipv6 = false) {
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
      return withLocalnet(before, after, after.installed ? [...steps4, ...steps6] : [...steps6, ...steps4]);
    },
  };
}
