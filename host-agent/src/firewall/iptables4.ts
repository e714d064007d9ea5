import { ipv4Guest, unique } from './family.js';
import { dhcpBeforeAddress, dhcpInput } from './iptables-dhcp.js';
import { dnsToGateway } from './iptables-rules.js';
import { CHAINS, type IptablesFamily, JUMPS } from './iptables-ruleset.js';
import { LOOPBACK4 } from './localnet.js';

// iptables' rules of IPv4's own: besides replies, guests reach the host only
// with DNS to their gateway (the daemon's forwarder), at a rate per guest that
// keeps one guest's flood from filling the forwarder's socket, and a dhcp
// guest's DHCP client with the daemon's server (iptables-dhcp.ts).

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
    ...guests.flatMap(dhcpInput),
  ],
};
