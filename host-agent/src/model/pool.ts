import { ipv4ToInt } from '@guestnet/protocol';

/** An IPv4 pool as numbers: its network address, prefix and size. */
export interface Pool {
  network: number;
  prefixLength: number;
  size: number;
}

export function parsePool(cidr: string): Pool {
  const [address = '', prefix = ''] = cidr.split('/');
  const prefixLength = Number(prefix);
  const size = 2 ** (32 - prefixLength);
  return { network: Math.floor(ipv4ToInt(address) / size) * size, prefixLength, size };
}

/** Whether `address` is a usable host address of the pool (not its network or broadcast address). */
export function inPool(pool: Pool, address: string): boolean {
  const value = ipv4ToInt(address);
  return value > pool.network && value < pool.network + pool.size - 1;
}

/** A route's destination ("a.b.c.d/n" or a bare address) as its [first, last] address. */
export function rangeOf(dst: string): [number, number] {
  const [address = '', prefix = '32'] = dst.split('/');
  const size = 2 ** (32 - Number(prefix));
  const first = Math.floor(ipv4ToInt(address) / size) * size;
  return [first, first + size - 1];
}

export function overlaps(pool: Pool, [first, last]: [number, number]): boolean {
  return first <= pool.network + pool.size - 1 && last >= pool.network;
}
