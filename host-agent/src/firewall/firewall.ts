import type { Runner, Step } from '../exec/runner.js';
import type { Forward } from '../forward.js';

/** The forwarding and NAT one guest needs: its link, its address, its uplink. */
export interface GuestRule {
  hostIf: string;
  guestAddress: string;
  uplink: string;
  /** May exchange traffic with other guests that are open too. */
  openToGuests: boolean;
  forwards: Forward[];
}

export interface FirewallState {
  /** Whether the agent's own table or chains exist. */
  installed: boolean;
  /** Host links with forwarding rules, whatever their uplink. */
  guestLinks: ReadonlySet<string>;
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
  observe(runner: Runner): Promise<FirewallState>;
  /** `createBase`: the agent's table/chains do not exist yet. */
  addGuest(rule: GuestRule, createBase: boolean): Step[];
  /** `removeBase`: no other guest is left, so the agent's table/chains go too. */
  removeGuest(rule: GuestRule, removeBase: boolean): Step[];
  /** Replaces a guest's port forwards `before` with those of `rule`. */
  setForwards(rule: GuestRule, before: Forward[]): Step[];
}
