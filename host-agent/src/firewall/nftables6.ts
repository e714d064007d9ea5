import type { PortForward } from '../model/port-forward.js';
import type { GuestRule } from '../model/rules.js';
import { antispoofChain, forwardChain } from './nft-forward.js';

// IPv6's table, beside IPv4's and shaped like it, made while any guest has
// IPv6 and removed with the last. A guest's link carries only its own
// address, but for ICMPv6 from link-local or unspecified sources: neighbour
// discovery, which never leaves the link. Neighbour discovery to the host must
// pass, or the guest has no IPv6 at all, but at a rate per link: each
// solicitation can make the host a neighbour entry, in a table the whole
// machine shares. ICMPv6 errors of a guest's flows, packet-too-big above all,
// are RELATED.
export const TABLE6 = 'ip6 guestnet';

const ND = 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit }';

export const BASE6 = `table ${TABLE6} {
	set guest_links { type ifname; }
	set forward_pairs { type ifname . ifname; }
	set guest_sources { type ifname . ipv6_addr; }
	set guest_addresses { type ipv6_addr; }
	set gateways { type ipv6_addr; }
	set masquerade_sources { type ipv6_addr . ifname; }
	set open_links { type ifname; }
	set nd_rate { type ifname; flags dynamic; timeout 10s; }
	map port_forwards { type inet_proto . inet_service : ipv6_addr . inet_service; }
${antispoofChain('ip6', '\t\tiifname @guest_links ip6 saddr { fe80::/10, :: } meta l4proto ipv6-icmp accept\n')}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local dnat ip6 to meta l4proto . th dport map @port_forwards
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local dnat ip6 to meta l4proto . th dport map @port_forwards
	}
${forwardChain()}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname @guest_links ${ND} update @nd_rate { iifname limit rate over 10/second burst 20 packets } drop
		iifname @guest_links ${ND} accept
		iifname @guest_links ct state established,related accept
		iifname @guest_links drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		iifname @guest_links oifname @guest_links ct status dnat masquerade
		ip6 saddr . oifname @masquerade_sources masquerade
	}
}`;

/** A forward as its map entry, as `nft -j` prints it back. Forwards bound to an IPv4 host address have no IPv6 side. */
export const forwardEntry6 = (address: string, f: PortForward) => `${f.protocol} . ${f.hostPort} : ${address} . ${f.guestPort}`;
export const forwards6 = (rule: GuestRule) => rule.forwards.filter((f) => f.hostAddress === undefined);

export function elements6(rule: GuestRule): string[] {
  const v6 = rule.ipv6;
  if (!v6) return [];
  return [
    `guest_links { "${rule.hostIf}" }`,
    `forward_pairs { "${rule.hostIf}" . "${v6.uplink}" }`,
    `guest_sources { "${rule.hostIf}" . ${v6.guestAddress} }`,
    `guest_addresses { ${v6.guestAddress} }`,
    ...(v6.masquerade ? [`masquerade_sources { ${v6.guestAddress} . "${v6.uplink}" }`] : []),
    ...(rule.openToGuests ? [`open_links { "${rule.hostIf}" }`] : []),
    ...forwards6(rule).map((f) => `port_forwards { ${forwardEntry6(v6.guestAddress, f)} }`),
  ];
}

/** Elements guests may share: kept while any guest needs them. */
export const sharedElements6 = (rules: readonly GuestRule[]): string[] => [
  ...new Set(rules.flatMap((r) => (r.ipv6 ? [`gateways { ${r.ipv6.gateway} }`] : []))),
];
