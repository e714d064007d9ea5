import { ipv4Guest, unique } from './family.js';
import { dhcpBeforeAddress, dhcpInput } from './iptables-dhcp.js';
import { filter } from './iptables-rules.js';
import { CHAINS, type IptablesFamily, JUMPS } from './iptables-ruleset.js';
import { LOOPBACK4 } from './localnet.js';

// iptables' rules of IPv4's own: besides replies, guests reach the host only
// with DNS to their gateway (the daemon's forwarder), at a rate per guest that
// keeps one guest's flood from filling the forwarder's socket, and a dhcp
// guest's DHCP client with the daemon's server (iptables-dhcp.ts).

const DNS_FLOOD_LIMIT = [
  '-m',
  'hashlimit',
  '--hashlimit-above',
  '200/sec',
  '--hashlimit-burst',
  '200',
  '--hashlimit-mode',
  'srcip',
  '--hashlimit-name',
  'guestnet-dns',
];

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
    ...unique(guests, (g) => `${g.linkFamily} ${g.gateway}`).flatMap((g) => {
      const dns = (p: string, ...action: string[]) =>
        filter('GUESTNET-INPUT', '-d', `${g.gateway}/32`, '-i', g.linkFamily, '-p', p, '-m', p, '--dport', '53', ...action);
      return [dns('udp', ...DNS_FLOOD_LIMIT, '-j', 'DROP'), dns('udp', '-j', 'ACCEPT'), dns('tcp', '-j', 'ACCEPT')];
    }),
    ...guests.flatMap(dhcpInput),
  ],
};
