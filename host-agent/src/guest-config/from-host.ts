import { applyGuest, type DnsTarget, observeGuest, planGuest, verifiedState } from '@guestnet/guest-agent';
import { guestConfigOf } from '../guest-link/configure.js';
import type { AttachmentRecord } from '../model/record.js';

// `--guest-config host` and the CNI plugin: the host configures the guest's
// end itself, entering the guest's netns with the guest agent's own planner:
// address, route, MTU, and IPv6 where the guest has it. It writes no file in
// the guest: its resolvers are the caller's business (a CNI runtime writes
// resolv.conf from the result's dns).

const NO_DNS_FILE: DnsTarget = { kind: 'none' };

/** Configures the guest's end as the guest agent would, and checks what is in force afterwards. */
export async function configureFromHost(record: AttachmentRecord): Promise<void> {
  const configure = guestConfigOf(record);
  const target = { netnsPath: record.netnsPath };
  const ipv6 = configure.link.ipv6 !== undefined;
  const ops = planGuest(await observeGuest(undefined, target, ipv6), configure, NO_DNS_FILE);
  verifiedState(await applyGuest(ops, target, ipv6), configure);
}

/** What is missing inside the guest for `record`, as op kinds: empty when its end is configured. */
export async function missingInGuest(record: AttachmentRecord): Promise<string[]> {
  const configure = guestConfigOf(record);
  const observed = await observeGuest(undefined, { netnsPath: record.netnsPath }, configure.link.ipv6 !== undefined);
  verifiedState(observed, configure);
  return planGuest(observed, configure, NO_DNS_FILE).map((op) => op.kind);
}
