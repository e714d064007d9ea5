import { type FamilyGuest, ipv4Guest, unique } from './family.js';
import { dnsToGateway, filter, type Rule } from './iptables-rules.js';
import { CHAINS, type IptablesFamily, JUMPS } from './iptables-ruleset.js';
import { LOOPBACK4 } from './localnet.js';

// iptables' rules of IPv4's own: besides replies, guests reach the host only
// with DNS to their gateway (the daemon's forwarder), at a rate per guest that
// keeps one guest's flood from filling the forwarder's socket, and a dhcp
// guest's DHCP client with the daemon's server.

/** A dhcp guest's client asks from 0.0.0.0 before it has an address: only to port 67, and only from its own link. */
const dhcpBeforeAddress = (g: FamilyGuest): Rule[] =>
  g.dhcp
    ? [
        filter(
          'GUESTNET-ANTISPOOF',
          '-s',
          '0.0.0.0/32',
          '-i',
          g.hostIf,
          '-p',
          'udp',
          '-m',
          'udp',
          '--sport',
          '68',
          '--dport',
          '67',
          '-j',
          'RETURN',
        ),
      ]
    : [];

export const IPTABLES4: IptablesFamily = {
  name: '4',
  view: ipv4Guest,
  hostBits: 32,
  dnatTarget: (address, port) => `${address}:${port}`,
  chains: CHAINS,
  jumps: JUMPS,
  localSources: (_families, guests) => guests.flatMap(dhcpBeforeAddress),
  loopback: LOOPBACK4,
  linkInput: () => [],
  input: (guests) => [
    ...unique(guests, (g) => `${g.linkFamily} ${g.gateway}`).flatMap((g) => dnsToGateway(`${g.gateway}/32`, g.linkFamily)),
    // A dhcp guest's DHCP client reaches the daemon's server (without the nftables backend's MAC check: see docs/dhcp.md).
    ...guests.flatMap((g) =>
      g.dhcp ? [filter('GUESTNET-INPUT', '-i', g.hostIf, '-p', 'udp', '-m', 'udp', '--sport', '68', '--dport', '67', '-j', 'ACCEPT')] : [],
    ),
  ],
};
