import type { PortForward } from '../model/port-forward.js';
import type { GuestRule } from '../model/rules.js';
import { antispoofChain, forwardChain } from './nft-forward.js';

// One table the agent owns. Per-guest data lives in sets, so a guest is a few
// set elements: adding or removing one never rewrites or rescans the rules.
// Its chains only ever accept or drop traffic of guest links, of guests'
// addresses and to their gateways; everything else falls through untouched to
// the host's own tables. Sources are checked first, in the antispoof chain
// (see nft-forward.ts). MSS is clamped to the path MTU (cellular and VPN
// uplinks are small), invalid packets are dropped, and guests reach the host
// itself only with replies, and with DNS to their gateway (the daemon's
// forwarder) over their own link, at a rate per guest that keeps one guest's
// flood from filling the forwarder's socket. The rate comes before the accept
// of established traffic: a flood from one UDP port is an established flow
// once the forwarder has answered it once. A guest that reaches another
// guest's published port is masqueraded to the gateway: the other guest would
// answer it on-link, where it cannot.
export const TABLE = 'ip guestnet';

export const BASE = `table ${TABLE} {
	set guest_links { type ifname; }
	set forward_pairs { type ifname . ifname; }
	set guest_sources { type ifname . ipv4_addr; }
	set guest_addresses { type ipv4_addr; }
	set gateways { type ipv4_addr; }
	set masquerade_sources { type ipv4_addr . ifname; }
	set open_links { type ifname; }
	set dns_servers { type ifname . ipv4_addr; }
	set dns_rate { type ipv4_addr; flags dynamic; timeout 10s; }
	map port_forwards { type inet_proto . inet_service : ipv4_addr . inet_service; }
	map port_forwards_at { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
${antispoofChain('ip')}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @port_forwards_at
		fib daddr type local dnat ip to meta l4proto . th dport map @port_forwards
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @port_forwards_at
		fib daddr type local dnat ip to meta l4proto . th dport map @port_forwards
	}
${forwardChain()}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname . ip daddr @dns_servers udp dport 53 update @dns_rate { ip saddr limit rate over 200/second burst 200 packets } drop
		iifname @guest_links ct state established,related accept
		iifname . ip daddr @dns_servers meta l4proto { tcp, udp } th dport 53 accept
		iifname @guest_links drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		iifname @guest_links oifname @guest_links ct status dnat masquerade
		ip saddr . oifname @masquerade_sources masquerade
	}
}`;

/** A forward as its map entry, as `nft -j` prints it back: "[address . ]proto . port : guest . port". */
export const forwardEntry = (address: string, f: PortForward) =>
  `${f.hostAddress === undefined ? '' : `${f.hostAddress} . `}${f.protocol} . ${f.hostPort} : ${address} . ${f.guestPort}`;
const forwardElement = (address: string, f: PortForward) =>
  `${f.hostAddress === undefined ? 'port_forwards' : 'port_forwards_at'} { ${forwardEntry(address, f)} }`;

export function elements(rule: GuestRule): string[] {
  return [
    `guest_links { "${rule.hostIf}" }`,
    `forward_pairs { "${rule.hostIf}" . "${rule.uplink}" }`,
    `guest_sources { "${rule.hostIf}" . ${rule.guestAddress} }`,
    `guest_addresses { ${rule.guestAddress} }`,
    `masquerade_sources { ${rule.guestAddress} . "${rule.uplink}" }`,
    `dns_servers { "${rule.hostIf}" . ${rule.gateway} }`,
    ...(rule.openToGuests ? [`open_links { "${rule.hostIf}" }`] : []),
    ...rule.forwards.map((f) => forwardElement(rule.guestAddress, f)),
  ];
}

/** Elements guests may share (many links have one gateway): kept while any guest needs them. */
export const sharedElements = (rules: readonly GuestRule[]): string[] => [...new Set(rules.map((r) => `gateways { ${r.gateway} }`))];
