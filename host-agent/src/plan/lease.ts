import { intToIPv4, ipv4ToInt, NameTakenError } from '@guestnet/protocol';
import type { HostObserved } from '../model/host.js';
import { overlaps, parsePool, type Pool, rangeOf } from '../model/pool.js';
import type { HostSettings } from '../model/settings.js';
import { guestAddressOf, hasHostEnd, hostEndOf } from '../model/record.js';

// Layout (docs/operation.md, "Many guests"): routed point-to-point. Every host-side veth
// carries the same gateway address as a /32 with its guest as peer, so the
// kernel keeps one /32 route per guest and no two links share a subnet.
// Each guest still sees the design's view: address/pool-prefix, default via
// the gateway. Guests are numbered upward from gateway + 1, so the first
// guest gets the design's 172.17.3.3 and link name vm_wlan.

/** What a lease must not clash with. */
type HostView = Pick<HostObserved, 'links' | 'routes' | 'records'>;

export interface Lease {
  hostIf: string;
  guestAddress: string;
}

/** Interface names: the prefix alone for the first guest, then prefix1, prefix2, ... */
function hostIfCandidates(prefix: string): Iterable<string> {
  return {
    *[Symbol.iterator]() {
      yield prefix;
      for (let index = 1; `${prefix}${index}`.length <= 15; index++) yield `${prefix}${index}`;
    },
  };
}

/** Routes the host had before us that lie inside the pool, as [first, last] address ranges. */
function foreignRanges(observed: HostView, pool: Pool): Array<[number, number]> {
  const ours = new Set(observed.records.flatMap((r) => hostEndOf(r) ?? []));
  return observed.routes
    .filter((route) => route.dst !== 'default' && !ours.has(route.dev))
    .map((route) => rangeOf(route.dst))
    .filter((range) => overlaps(pool, range));
}

function describeRange([first, last]: [number, number]): string {
  return `${intToIPv4(first)}/${32 - Math.log2(last - first + 1)}`;
}

/** The host link name and guest address for attachment `id`: its existing lease, the settings' explicit choice, or the next free one. */
export function allocate(observed: HostView, settings: HostSettings, id: string): Lease {
  const existing = observed.records.find((r) => r.id === id);
  if (existing && hasHostEnd(existing) && existing.guestAddress !== undefined)
    return { hostIf: existing.hostIf, guestAddress: existing.guestAddress };

  const takenNames = new Set([...observed.links, ...observed.records.flatMap((r) => hostEndOf(r) ?? [])]);
  let hostIf = settings.hostIf;
  if (hostIf === undefined) {
    for (const candidate of hostIfCandidates(settings.hostIfPrefix)) {
      if (!takenNames.has(candidate)) {
        hostIf = candidate;
        break;
      }
    }
    if (hostIf === undefined) throw new NameTakenError(`every ${settings.hostIfPrefix}N name is taken`);
  }

  const pool = parsePool(settings.pool);
  // A re-attach that names its own address again takes nothing from anyone.
  const leased = new Set(
    observed.records.flatMap((r) => {
      if (r.id === id) return [];
      const address = guestAddressOf(r);
      return address === undefined ? [] : [ipv4ToInt(address)];
    }),
  );
  leased.add(ipv4ToInt(settings.gateway));
  const ranges = foreignRanges(observed, pool);
  const clash = (value: number) => ranges.find(([first, last]) => value >= first && value <= last);

  if (settings.guestAddress !== undefined) {
    const value = ipv4ToInt(settings.guestAddress);
    if (leased.has(value)) throw new NameTakenError(`${settings.guestAddress} is already leased or is the gateway`);
    const range = clash(value);
    if (range) throw new NameTakenError(`${settings.guestAddress} lies in the host route ${describeRange(range)}`);
    return { hostIf, guestAddress: settings.guestAddress };
  }

  // Upward from the gateway, wrapping once around the pool's usable addresses.
  const usable = pool.size - 2;
  const start = ipv4ToInt(settings.gateway) - pool.network;
  for (let step = 1; step <= usable; step++) {
    const value = pool.network + 1 + ((start - 1 + step) % usable);
    if (leased.has(value)) continue;
    const range = clash(value);
    if (range) {
      step += range[1] - value;
      continue;
    }
    return { hostIf, guestAddress: intToIPv4(value) };
  }
  const blocking = ranges[0];
  throw new NameTakenError(
    blocking
      ? `no free address in ${settings.pool}: the host route ${describeRange(blocking)} overlaps it; choose another pool`
      : `no free address left in ${settings.pool}`,
  );
}

/**
 * A locally administered MAC derived from the guest address: stable for as
 * long as the lease. A DHCP guest's address is not known yet: its MAC ends in zeros.
 */
export function guestMac(guestAddress: string | undefined): string {
  const octets = (guestAddress?.split('.') ?? ['0', '0', '0', '0']).map((o) => Number(o).toString(16).padStart(2, '0'));
  return ['02', '67', '6e', ...octets.slice(1)].join(':');
}
