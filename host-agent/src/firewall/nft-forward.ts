/**
 * The forward chain both of guestnet's tables share: MSS clamped to the path,
 * INVALID dropped, guest to uplink accepted and back only when established,
 * every other packet to or from a guest link dropped. Sources were checked
 * before, in the antispoof chain.
 */
export function forwardChain(): string {
  return `	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname @guest_links tcp flags syn tcp option maxseg size set rt mtu
		oifname @guest_links tcp flags syn tcp option maxseg size set rt mtu
		iifname @guest_links ct state invalid drop
		oifname @guest_links ct state invalid drop
		iifname . oifname @forward_pairs accept
		ct status dnat oifname @guest_links accept
		iifname @open_links oifname @open_links accept
		oifname . iifname @forward_pairs ct state established,related accept
		oifname @guest_links drop
		iifname @guest_links drop
	}`;
}

/**
 * The antispoof chain both tables share, at raw priority: before conntrack,
 * the forward chain and the forwarder. A guest's link carries only the
 * guest's address (`local`: what else a family lets through from it); a
 * guest's address from anywhere else, and anything to a gateway from outside
 * the guests' links, is dropped. This does not rest on the host's rp_filter:
 * the uplink's is the host's to choose (loose or off lets a LAN host claim a
 * guest's address), and `all=2` makes it loose on guest links too.
 */
export function antispoofChain(family: 'ip' | 'ip6', local = ''): string {
  return `	chain antispoof {
		type filter hook prerouting priority raw; policy accept;
${local}		iifname @guest_links iifname . ${family} saddr != @guest_sources drop
		iifname @guest_links accept
		iif "lo" accept
		${family} saddr @guest_addresses drop
		${family} daddr @gateways drop
	}`;
}
