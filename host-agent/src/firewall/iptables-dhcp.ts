import { DHCP_RATE_PER_LINK } from '../model/rules.js';
import type { FamilyGuest } from './family.js';
import { filter, type Rule } from './iptables-rules.js';

// iptables' half of what nftables4.ts does for a dhcp guest's client: a
// request's MAC (chaddr) is only bytes a client writes, and these rules make
// it mean the link. From a dhcp guest's link, port 67 is accepted only with
// the guest's MAC as the frame's source and as chaddr, and at a kernel rate
// per link; the rest to port 67 from that link is dropped. The guest's MAC
// from any other link (another guest's, the LAN's) is dropped too. All of it
// sits in GUESTNET-INPUT before the accept of established traffic: a renewing
// client's flow is established once the server has answered it once.
// Conntrack, which the nat table needs, reassembles fragments first, so a
// fragment cannot hide chaddr.

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * The u32 test that a DHCP request's chaddr is `mac`, written as
 * iptables-save prints it back (numbers in hex, no leading zeros), so the
 * drift check sees it in place. chaddr is at offset 28 of the BOOTP message,
 * so 36 bytes past the start of the UDP header: `0>>22&0x3C` is the IP
 * header's length (IHL times 4), `@` moves past it, and two 4-byte reads at
 * 36 and 38 cover the MAC's six bytes. A packet too short for them fails the
 * test.
 */
export function chaddrIs(mac: string): string {
  const lower = mac.toLowerCase();
  if (!MAC.test(lower)) throw new Error(`not a MAC address: ${mac}`);
  const bytes = lower.split(':').map((h) => Number.parseInt(h, 16));
  const word = (from: number) => bytes.slice(from, from + 4).reduce((w, b) => w * 256 + b, 0);
  const at = (offset: number) => `${hex(0)}>>${hex(22)}&${hex(0x3c)}@${hex(offset)}`;
  return `${at(36)}=${hex(word(0))}&&${at(38)}=${hex(word(2))}`;
}

/** The bucket of a link's rate, one per link: hashlimit without a mode keeps a single one per name, which outlives rewrites of the chain. */
const rateName = (hostIf: string) => `guestnet-dhcp-${hostIf}`;

/** A DHCP client's request from `link` to the server: client port to server port. */
const clientRequest = (link: string) => ['-i', link, '-p', 'udp', '-m', 'udp', '--sport', '68', '--dport', '67'];

/** A dhcp guest's client asks from 0.0.0.0 before it has an address: only to port 67, and only from its own link. */
export const dhcpBeforeAddress = (g: FamilyGuest): Rule[] =>
  g.dhcp ? [filter('GUESTNET-ANTISPOOF', '-s', '0.0.0.0/32', ...clientRequest(g.hostIf), '-j', 'RETURN')] : [];

/**
 * What a dhcp guest's link may send to port 67, and what is dropped of its
 * MAC from elsewhere: for GUESTNET-INPUT, before any accept of established
 * traffic. The rate is the accept's last test, so only requests that pass the
 * others spend it.
 */
export function dhcpInput(g: FamilyGuest): Rule[] {
  if (!g.dhcp) return [];
  const mac = g.dhcp.mac.toLowerCase();
  const chaddr = ['-m', 'u32', '--u32', chaddrIs(mac)];
  const rate = String(DHCP_RATE_PER_LINK);
  const limit = ['-m', 'hashlimit', '--hashlimit-upto', `${rate}/sec`, '--hashlimit-burst', rate, '--hashlimit-name', rateName(g.hostIf)];
  const port67 = ['-p', 'udp', '-m', 'udp', '--dport', '67'];
  const input = (...spec: string[]) => filter('GUESTNET-INPUT', ...spec);
  return [
    input(...clientRequest(g.hostIf), '-m', 'mac', '--mac-source', mac, ...chaddr, ...limit, '-j', 'ACCEPT'),
    input('-i', g.hostIf, ...port67, '-j', 'DROP'),
    input('!', '-i', g.hostIf, ...port67, ...chaddr, '-j', 'DROP'),
  ];
}
