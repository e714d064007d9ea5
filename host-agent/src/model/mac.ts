/**
 * The MAC a routed guest's host end is made with: the guest end's with one
 * more bit of the first octet flipped, which keeps it unicast and locally
 * administered, and never the guest end's own. Known without a look, so a
 * CNI result names it without asking the kernel.
 */
export function hostEndMac(guestMac: string): string {
  const [first = '02', ...rest] = guestMac.split(':');
  return [(Number.parseInt(first, 16) ^ 0x04).toString(16).padStart(2, '0'), ...rest].join(':');
}
