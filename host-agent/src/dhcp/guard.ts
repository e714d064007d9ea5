import type { DhcpGuest } from './guest.js';

// The kernel's half of tying a DHCP request to its guest link. The server
// sees a request's MAC (chaddr) but not the link it came in on, and chaddr is
// only bytes a client writes. These rules make it mean the link: a request
// to port 67 from a guest link must carry that link's MAC, and a guest's MAC
// from any other link (another guest's, the LAN) never reaches the server.
// So no one can spend another guest's request budget, and the server's
// MAC lookup is the link lookup it stands for. Each guest link also gets a
// rate in the kernel, before the server's socket: a flood fills neither the
// socket's queue nor the daemon's loop. On the way out, a reply to a guest's
// address leaves by that guest's link or not at all, even if its route went.
//
// Requests from other links with other MACs pass untouched: a host may run
// its own DHCP server (lxc-net's dnsmasq on lxcbr0), and it keeps working.
//
// chaddr lies 28 bytes into the DHCP message, 36 past the UDP header: the
// raw payload @th,288,48. A ct expression makes the kernel reassemble
// fragments before these rules, so a fragment cannot hide chaddr from them.

export const GUARD_TABLE = 'ip guestnet_dhcp';
/** Requests a second a guest link may send before the kernel drops them; the server has its own, lower bound. */
export const KERNEL_REQUESTS_PER_SECOND = 20;

const BASE = `table ${GUARD_TABLE} {
	set links { type ifname; }
	set clients { typeof iifname . @th,288,48; }
	set macs { typeof @th,288,48; }
	set addresses { type ipv4_addr; }
	set destinations { type ipv4_addr . ifname; }
	set rate { type ifname; flags dynamic; timeout 10s; }
	chain input {
		type filter hook input priority filter - 1; policy accept;
		udp dport 67 ct state invalid drop
		udp dport 67 iifname @links update @rate { iifname limit rate over ${KERNEL_REQUESTS_PER_SECOND}/second burst ${KERNEL_REQUESTS_PER_SECOND} packets } drop
		udp dport 67 iifname @links iifname . @th,288,48 != @clients drop
		udp dport 67 @th,288,48 @macs iifname . @th,288,48 != @clients drop
	}
	chain output {
		type filter hook output priority filter - 1; policy accept;
		udp sport 67 udp dport 68 ip daddr @addresses ip daddr . oifname != @destinations drop
	}
}`;

/** A MAC as the 48-bit number nft compares chaddr with. */
const macNumber = (mac: string) => `0x${mac.split(':').join('')}`;

function elements(guest: DhcpGuest): string[] {
  return [
    `links { "${guest.link}" }`,
    `clients { "${guest.link}" . ${macNumber(guest.mac)} }`,
    `macs { ${macNumber(guest.mac)} }`,
    `addresses { ${guest.address} }`,
    `destinations { ${guest.address} . "${guest.link}" }`,
  ];
}

/**
 * `nft -f -` input that adds `guests`, and first makes the table when
 * `create` (the caller knows whether it exists: a table declared twice
 * would hold its rules twice). One atomic batch either way.
 */
export function guardScript(guests: readonly DhcpGuest[], create: boolean): string {
  const adds = guests.flatMap(elements).map((element) => `add element ${GUARD_TABLE} ${element}`);
  return `${[...(create ? [BASE] : []), ...adds].join('\n')}\n`;
}

/** Its inverse for guests that leave while others stay; the last one's leaving deletes the table instead. */
export function guardRemovalScript(guests: readonly DhcpGuest[]): string {
  return `${guests
    .flatMap(elements)
    .map((element) => `delete element ${GUARD_TABLE} ${element}`)
    .join('\n')}\n`;
}

export const GUARD_DELETE_SCRIPT = `delete table ${GUARD_TABLE}\n`;
