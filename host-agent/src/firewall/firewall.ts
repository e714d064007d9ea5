import type { Runner, Step } from '../exec/runner.js';
import type { Forward } from '../forward.js';

/** The forwarding and NAT one guest needs: its link, its address, its uplink. */
export interface GuestRule {
  hostIf: string;
  /**
   * How iptables matches this guest's link: "vm_wlan+" for every link named
   * from the same prefix, so one set of rules serves them all and a packet's
   * path does not grow with the number of guests; the exact name otherwise.
   */
  linkFamily: string;
  /** The guest's subnet as a CIDR: what is masqueraded. */
  pool: string;
  guestAddress: string;
  uplink: string;
  /** May exchange traffic with other guests that are open too. */
  openToGuests: boolean;
  forwards: Forward[];
}

export interface FirewallState {
  /** Whether the agent's own table or chains exist. */
  installed: boolean;
  /** True when every piece of `rule` is in place. */
  has(rule: GuestRule): boolean;
}

/**
 * One implementation per backend. Steps are pure functions of their inputs so
 * a dry run prints exactly what a real run executes. Removal tolerates pieces
 * that are already gone.
 */
export interface Firewall {
  readonly name: string;
  readonly tool: { binary: string; debianPackage: string };
  /** `deep: false` may answer `has` with false: enough for a fresh attach, whose adds are idempotent. */
  observe(runner: Runner, deep: boolean): Promise<FirewallState>;
  /**
   * Adds `rule` beside `others` (the guests already attached). `createBase`:
   * the agent's table/chains are missing (first guest, or flushed by the
   * host), so they are made and every guest in `others` is put back too.
   */
  addGuest(rule: GuestRule, others: GuestRule[], createBase: boolean): Step[];
  /** Removes `rule`; with no guest `remaining`, the agent's table/chains go too. */
  removeGuest(rule: GuestRule, remaining: GuestRule[]): Step[];
  /** Replaces the rules of guests `before` with `after` (the same guests, changed), beside `unchanged`. */
  replaceGuests(before: GuestRule[], after: GuestRule[], unchanged: GuestRule[]): Step[];
  /** Replaces a guest's port forwards `before` with those of `rule`. */
  setForwards(rule: GuestRule, before: Forward[], others: GuestRule[]): Step[];
}
