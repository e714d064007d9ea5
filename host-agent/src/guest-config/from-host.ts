import { applyGuest, type DnsTarget, type GuestObserved, ipLinesOf, observeGuest, planGuest, verifiedState } from '@guestnet/guest-agent';
import { guestConfigOf } from '../guest-link/configure.js';
import { guestConfigModeOf } from '../model/guest-config.js';
import type { AttachmentRecord } from '../model/record.js';

// `--guest-config host` and the CNI plugin: the host configures the guest's
// end itself, entering the guest's netns with the guest agent's own planner:
// address, route, MTU, and IPv6 where the guest has it. It writes no file in
// the guest: its resolvers are the caller's business (a CNI runtime writes
// resolv.conf from the result's dns).

const NO_DNS_FILE: DnsTarget = { kind: 'none' };
/** The rule a new netns has that sends every packet to `main`. */
const KERNEL_MAIN_RULE = 32766;

/**
 * What the guest's own netns holds that is not the host's to configure: a
 * CNI container's lo is its runtime's (the spec's loopback plugin brings it
 * up), so the plugin neither brings it up nor counts it missing.
 */
const oursToConfigure = (record: AttachmentRecord, observed: GuestObserved): GuestObserved =>
  record.cni ? { ...observed, links: observed.links.filter((link) => link.name !== 'lo') } : observed;

/**
 * The `ip -batch` lines that configure the end of a guest the host
 * configures, for the process that makes that end in the guest's netns
 * (exec/veth-steps.ts) to run after making it: the guest agent's planner,
 * from the end as that process has just made it. Nothing they do may outlive
 * the pair should the attach fail after them, as it may, since the host end
 * is set up later: they touch no lo, and their default route comes before
 * any the guest had (prepend), so that route is kept, and goes with the
 * link. `onlink` spares the kernel's check that the gateway is reachable,
 * which routes through the rules: in a netns whose rules leave main out it
 * would fail before configureFromHost could add the rule. configureFromHost
 * then looks, and does what is left (lo, that rule, IPv6, which it does whole).
 */
export function configuredAsMadeLines(record: AttachmentRecord): string[] {
  if (record.type !== 'routed-veth' || guestConfigModeOf(record) !== 'host' || record.ipv6) return [];
  const asMade: GuestObserved = {
    links: [{ name: record.guestIf, alias: record.token, mtu: record.mtu, up: false, addresses: [] }],
    defaultRoute: undefined,
    mainRulePriority: KERNEL_MAIN_RULE,
    terminalRulePriority: undefined,
    dnsFile: undefined,
  };
  return planGuest(asMade, guestConfigOf(record), NO_DNS_FILE).flatMap((op) =>
    ipLinesOf(op.kind === 'setDefaultRoute' ? { ...op, ahead: true } : op),
  );
}

/** Configures the guest's end as the guest agent would, and checks what is in force afterwards. */
export async function configureFromHost(record: AttachmentRecord): Promise<void> {
  const configure = guestConfigOf(record);
  const target = { netnsPath: record.netnsPath };
  const ipv6 = configure.link.ipv6 !== undefined;
  const observed = await observeGuest(undefined, target, ipv6);
  const ops = planGuest(oursToConfigure(record, observed), configure, NO_DNS_FILE);
  // Where the process that made the end configured it too, the look is the check.
  verifiedState(ops.length === 0 ? observed : await applyGuest(ops, target, ipv6), configure);
}

/** What is missing inside the guest for `record`, as op kinds: empty when its end is configured. */
export async function missingInGuest(record: AttachmentRecord): Promise<string[]> {
  const configure = guestConfigOf(record);
  const observed = await observeGuest(undefined, { netnsPath: record.netnsPath }, configure.link.ipv6 !== undefined);
  verifiedState(observed, configure);
  return planGuest(oursToConfigure(record, observed), configure, NO_DNS_FILE).map((op) => op.kind);
}
