import { isIPv6 } from 'node:net';

// IPv6 addresses as numbers and back, in the form `ip` prints: lowercase, the
// longest run of two or more zero groups shortened to "::" (RFC 5952).

export function ipv6ToBigInt(address: string): bigint {
  if (!isIPv6(address) || address.includes('.') || address.includes('%')) throw new RangeError(`not an IPv6 address: ${address}`);
  const [head = '', tail] = address.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

export function bigIntToIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(16 * (7 - i))) & 0xffffn));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > best.length) best = { start: i, length: end - i };
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.length < 2) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** The same address in `ip`'s form, whatever form it was written in. */
export function canonicalIpv6(address: string): string {
  return bigIntToIpv6(ipv6ToBigInt(address));
}
