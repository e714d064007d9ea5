import type { FirewallName } from '../model/names.js';
import type { FirewallContent, FirewallState } from '../model/rules.js';
import type { Reader, Step } from '../model/step.js';

/**
 * Why a narrow look reads IPv6's rules too: `ports`, a bridged guest's port is
 * at stake (it is let through both families); `chains`, this change may make
 * or remove IPv6's chains, so what is absent there before, or marked as made,
 * is seen (firewall/iptables-made.ts).
 */
export interface Read6 {
  ports?: boolean;
  chains?: boolean;
}

/**
 * One implementation per backend, chosen once per state dir. A backend keeps
 * its representation (nft sets, iptables link families) to itself: callers
 * say what guestnet's rules should hold before and after a change, never how.
 * Steps are pure functions of their inputs, so a dry run prints exactly what
 * a real run executes, and removal tolerates pieces that are already gone.
 */
export interface Firewall {
  readonly name: FirewallName;
  readonly tool: { binary: string; debianPackage: string };
  /**
   * `deep: false` may answer `has` with false: enough for a fresh attach, whose adds are idempotent.
   * IPv6's rules are read with `ipv6` in a deep look, where some guest has IPv6, and where `read6` says why.
   */
  observe(reader: Reader, deep: boolean, ipv6?: boolean, read6?: Read6): Promise<FirewallState>;
  /** The steps from `before` to `after`; `change(after, before)` undoes them. */
  change(before: FirewallContent, after: FirewallContent): Step[];
}
