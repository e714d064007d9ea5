import { bigIntToIpv6, ipv6ToBigInt, ipv4ToInt } from '@guestnet/protocol';

// IPv6 for guests (docs/ipv6.md). A guest's IPv6 address is its pool's prefix
// with the guest's IPv4 address in the last 32 bits: it is as unique as the
// IPv4 lease, needs no lease of its own, and reads back to the guest at a
// glance (fd..::ac11:303 is 172.17.3.3). The gateway is the prefix's ::1 on
// every guest link, as the IPv4 gateway is.

export const IPV6_CHOICES = ['auto', 'off', 'nat', 'routed'] as const;
/** auto: nat when the host has IPv6 to give (a global address and an IPv6 default route), else off. */
export type Ipv6Choice = (typeof IPV6_CHOICES)[number];
export type Ipv6Mode = 'nat' | 'routed';

/** A guest's IPv6, in its record. */
export interface GuestIpv6 {
  /** nat: masqueraded to the uplink's address; routed: its own address from a prefix routed to the host. */
  mode: Ipv6Mode;
  hostAddress: string;
  guestAddress: string;
  prefixLength: number;
  /** The interface of the IPv6 default route: beside a CLAT it is not the IPv4 uplink. */
  uplink: string;
  /** routed, in a prefix on-link on the uplink: the host answers neighbour discovery for the guest there. */
  ndProxy?: true;
}

/** Whether `address` lies in `network/prefixLength`. */
export function inPrefix6(address: string, network: string, prefixLength: number): boolean {
  const hostBits = BigInt(128 - prefixLength);
  return ipv6ToBigInt(address) >> hostBits === ipv6ToBigInt(network) >> hostBits;
}

/** The pool's network and prefix length; the prefix leaves 32 bits or more for the guest's IPv4 address. */
export function parsePool6(cidr: string): { network: bigint; prefixLength: number } {
  const [address = '', prefix = ''] = cidr.split('/');
  const prefixLength = Number(prefix);
  const hostBits = BigInt(128 - prefixLength);
  return { network: (ipv6ToBigInt(address) >> hostBits) << hostBits, prefixLength };
}

export function guestIpv6Of(pool6: string, guestAddress: string, mode: Ipv6Mode, uplink: string): GuestIpv6 {
  const { network, prefixLength } = parsePool6(pool6);
  return {
    mode,
    hostAddress: bigIntToIpv6(network + 1n),
    guestAddress: bigIntToIpv6(network + BigInt(ipv4ToInt(guestAddress))),
    prefixLength,
    uplink,
  };
}

/**
 * The address a guest's kernel forms by SLAAC in the /64 of `address` from its
 * MAC: the modified EUI-64 interface id (RFC 4291), Linux's default
 * (addr_gen_mode 0, no privacy addresses).
 */
export function slaacAddressOf(address: string, mac: string): string {
  const bytes = mac.split(':').map((part) => Number.parseInt(part, 16));
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0] = bytes;
  const iid = [b0 ^ 0x02, b1, b2, 0xff, 0xfe, b3, b4, b5].reduce((sum, byte) => (sum << 8n) | BigInt(byte), 0n);
  return bigIntToIpv6(((ipv6ToBigInt(address) >> 64n) << 64n) | iid);
}

/** What turning IPv6 forwarding on changed, kept so the last guest's detach puts it back. */
export interface Ipv6ForwardingBefore {
  forwarding: string;
  /**
   * Interfaces (and "default") that took router advertisements with
   * accept_ra=1: with forwarding on the kernel ignores RAs unless it is 2,
   * and the host's RA-learned default route would expire.
   */
  acceptRa: Record<string, string>;
}
