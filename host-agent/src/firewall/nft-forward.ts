/**
 * The forward chain both of guestnet's tables share: MSS clamped to the path,
 * INVALID dropped, guest to uplink accepted and back only when established,
 * every other packet to or from a guest link dropped. `checkSource` goes
 * before the accepts: IPv6's source validation, which IPv4 has in rp_filter.
 */
export function forwardChain(checkSource?: string): string {
  return `	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname @guest_links tcp flags syn tcp option maxseg size set rt mtu
		oifname @guest_links tcp flags syn tcp option maxseg size set rt mtu
		iifname @guest_links ct state invalid drop
		oifname @guest_links ct state invalid drop
${checkSource === undefined ? '' : `		${checkSource}\n`}		iifname . oifname @forward_pairs accept
		ct status dnat oifname @guest_links accept
		iifname @open_links oifname @open_links accept
		oifname . iifname @forward_pairs ct state established,related accept
		oifname @guest_links drop
		iifname @guest_links drop
	}`;
}
