import { isDhcpGuest } from '../model/guest-config.js';
import type { AttachmentRecord } from '../model/record.js';
import type { DhcpGuest } from './guest.js';

// What a guest link needs before the DHCP server can answer on it. A client
// without an address cannot answer ARP for the address it is offered, so the
// host would never learn where to send the unicast OFFER. A permanent
// neighbour entry gives the kernel the guest's MAC for that address on the
// guest's link: the reply leaves by the guest's /32 route, to the guest's
// MAC, on its link, and nowhere else. It also keeps a guest from claiming
// another guest's address by ARP. It goes with the link when the link is
// deleted; attach adds it in the same `ip -batch` as the host end's address.

type NeighbourOf = Pick<DhcpGuest, 'address' | 'mac' | 'link'>;

/** `ip -batch` lines that add the entry (replace: a stale one from an earlier guest of the address is overwritten). */
export function neighbourLines(guest: NeighbourOf): string[] {
  return [`neigh replace ${guest.address} lladdr ${guest.mac} dev ${guest.link} nud permanent`];
}

/** Its inverse, for a link that stays while the guest goes (a link deleted takes the entry with it). */
export function neighbourRemovalLines(guest: NeighbourOf): string[] {
  return [`neigh del ${guest.address} dev ${guest.link}`];
}

/**
 * A dhcp guest's host end in attach's `ip -batch` (exec/steps.ts): the
 * neighbour entry above, which costs no process of its own. Nothing for other guests.
 */
export function dhcpHostEndLines(record: AttachmentRecord): string[] {
  return isDhcpGuest(record) ? neighbourLines({ address: record.guestAddress, mac: record.guestMac, link: record.hostIf }) : [];
}

/** No agent brings a dhcp guest's end up, and a bare DHCP client (busybox udhcpc) does not either. */
export function dhcpGuestEndLines(record: AttachmentRecord): string[] {
  return isDhcpGuest(record) ? [`link set dev ${record.guestIf} up`] : [];
}
