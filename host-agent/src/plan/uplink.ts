import { checkIfName } from '@guestnet/protocol';
import { type AttachmentRecord, hasHostEnd, hostEndOf } from '../model/record.js';

/**
 * Why `uplink` cannot carry guests, or undefined when it can. Its name goes
 * into nft and iptables-restore input, so it must be a plain one; and it must
 * never be a link that carries guests: lo, a guest's own link, or one named
 * like theirs.
 */
export function uplinkProblem(
  uplink: string,
  records: readonly AttachmentRecord[],
  guestLink?: { hostIf: string; hostIfPrefix: string },
): string | undefined {
  if (!checkIfName(uplink).ok)
    return `the uplink's name '${uplink.slice(0, 20)}' has characters guestnet does not put in rules; give --uplink with a plain name (A-Z a-z 0-9 _ . -)`;
  if (uplink === 'lo') return 'the uplink cannot be the loopback link lo; give --uplink IF';
  const prefixes = new Set([
    ...records.flatMap((r) => (hasHostEnd(r) ? (r.hostIfPrefix ?? []) : [])),
    ...(guestLink ? [guestLink.hostIfPrefix] : []),
  ]);
  const family = [...prefixes].some((prefix) => uplink.startsWith(prefix) && /^\d*$/.test(uplink.slice(prefix.length)));
  if (uplink === guestLink?.hostIf || records.some((r) => hostEndOf(r) === uplink) || family) {
    return `the uplink cannot be ${uplink}, a guest's own link: guests would reach each other through it`;
  }
  return undefined;
}
