import { KernelFeatureError, UplinkNotFoundError } from '@guestnet/protocol';
import { type HostIpv6, ipv6Uplink } from '../model/host.js';
import { type GuestIpv6, guestIpv6Of, inPrefix6, type Ipv6Choice, type Ipv6ForwardingBefore } from '../model/ipv6.js';
import { type AttachmentRecord, hostEndOf, type RoutedVethRecord } from '../model/record.js';
import type { SetupOp, TeardownOp } from './ops.js';

/**
 * A new guest's IPv6, or undefined for IPv4 only. auto gives nat where the
 * host has IPv6 to share: a global address on the interface of an IPv6
 * default route. Asking for nat or routed where the kernel has IPv6 off, or
 * where no IPv6 default route exists, is refused: nothing half works.
 */
export function chooseIpv6(host: HostIpv6 | undefined, choice: Ipv6Choice, pool6: string, guestAddress: string): GuestIpv6 | undefined {
  if (choice === 'off') return undefined;
  if (host?.forwarding === undefined) {
    if (choice === 'auto') return undefined;
    throw new KernelFeatureError(
      `--ipv6 ${choice}: IPv6 is switched off on this host (net.ipv6.conf.all.disable_ipv6=1 or ipv6.disable=1); attach with --ipv6 off`,
    );
  }
  const uplink = ipv6Uplink(host);
  if (choice === 'auto')
    return uplink !== undefined && host.global.has(uplink) ? guestIpv6Of(pool6, guestAddress, 'nat', uplink) : undefined;
  if (uplink === undefined) throw new UplinkNotFoundError(`--ipv6 ${choice}: the host has no IPv6 default route to send guests' IPv6 by`);
  const ipv6 = guestIpv6Of(pool6, guestAddress, choice, uplink);
  // A prefix the upstream believes on-link is asked for by neighbour discovery, not routed: the host answers for the guest.
  const onLink =
    choice === 'routed' &&
    host.onLink.some(
      (p) => p.dev === uplink && p.prefixLength <= ipv6.prefixLength && inPrefix6(ipv6.guestAddress, p.address, p.prefixLength),
    );
  return onLink ? { ...ipv6, ndProxy: true } : ipv6;
}

/** What turning IPv6 forwarding on must change and later restore: RA-taking interfaces other than guests' links go to accept_ra=2. */
export function forwardingBefore(host: HostIpv6, records: readonly AttachmentRecord[]): Ipv6ForwardingBefore {
  const guestLinks = new Set(records.flatMap((r) => hostEndOf(r) ?? []));
  const takesRa = [...host.acceptRa].filter(([name, value]) => value === '1' && name !== 'all' && name !== 'lo' && !guestLinks.has(name));
  return { forwarding: host.forwarding ?? '0', acceptRa: Object.fromEntries(takesRa) };
}

/** What a routed guest on an on-link prefix needs and lacks: proxy_ndp on its uplink, and the host's answer for its address. */
export function ndProxySetup(host: HostIpv6 | undefined, records: readonly RoutedVethRecord[]): SetupOp[] {
  const ops: SetupOp[] = [];
  for (const { ipv6 } of records) {
    if (!host || !ipv6?.ndProxy) continue;
    const { uplink, guestAddress: address } = ipv6;
    const enabling = ops.some((op) => op.kind === 'enableProxyNdp' && op.uplink === uplink);
    const now = host.proxyNdp.get(uplink);
    // Unread (the uplink is no longer a default route's): nothing to decide from.
    if (now !== undefined && now !== '1' && !enabling)
      ops.push({ kind: 'enableProxyNdp', uplink, before: host.proxyNdpBefore.get(uplink) ?? now });
    if (!host.ndProxies.has(`${address} ${uplink}`)) ops.push({ kind: 'addNdProxy', uplink, address });
  }
  return ops;
}

/** Removes the answers of `leaving`, and proxy_ndp of each uplink that no remaining guest needs. */
export function ndProxyTeardown(
  host: HostIpv6 | undefined,
  leaving: readonly RoutedVethRecord[],
  remaining: readonly RoutedVethRecord[],
): TeardownOp[] {
  const ops: TeardownOp[] = leaving.flatMap(({ ipv6 }) =>
    ipv6?.ndProxy ? [{ kind: 'removeNdProxy' as const, uplink: ipv6.uplink, address: ipv6.guestAddress }] : [],
  );
  const needed = new Set(remaining.flatMap((r) => (r.ipv6?.ndProxy ? [r.ipv6.uplink] : [])));
  for (const [uplink, value] of host?.proxyNdpBefore ?? []) if (!needed.has(uplink)) ops.push({ kind: 'restoreProxyNdp', uplink, value });
  return ops;
}
