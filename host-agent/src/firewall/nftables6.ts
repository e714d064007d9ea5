import type { PortForward } from '../model/port-forward.js';
import { forwardChain } from './nft-forward.js';
import type { GuestRule } from '../model/rules.js';

// IPv6's table, beside IPv4's and shaped like it, made while any guest has
// IPv6 and removed with the last. IPv6 has no rp_filter: a guest may only
// send from its own address (link-local never leaves its link). Neighbour
// discovery to the gateway must pass, or the guest has no IPv6 at all;
// ICMPv6 errors of a guest's flows, packet-too-big above all, are RELATED.
export const TABLE6 = 'ip6 guestnet';

export const BASE6 = `table ${TABLE6} {
	set guest_links { type ifname; }
	set forward_pairs { type ifname . ifname; }
	set guest_sources { type ifname . ipv6_addr; }
	set masquerade_sources { type ipv6_addr . ifname; }
	set open_links { type ifname; }
	map port_forwards { type inet_proto . inet_service : ipv6_addr . inet_service; }
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local dnat ip6 to meta l4proto . th dport map @port_forwards
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local dnat ip6 to meta l4proto . th dport map @port_forwards
	}
${forwardChain('iifname @guest_links iifname . ip6 saddr != @guest_sources drop')}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname @guest_links ct state established,related accept
		iifname @guest_links icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept
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
    ...(v6.masquerade ? [`masquerade_sources { ${v6.guestAddress} . "${v6.uplink}" }`] : []),
    ...(rule.openToGuests ? [`open_links { "${rule.hostIf}" }`] : []),
    ...forwards6(rule).map((f) => `port_forwards { ${forwardEntry6(v6.guestAddress, f)} }`),
  ];
}
