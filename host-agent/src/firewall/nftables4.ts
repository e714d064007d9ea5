import { DHCP_RATE_PER_LINK as DHCP_RATE, NFT_TABLE_NAME } from '../model/rules.js';
import { ipv4Guest } from './family.js';
import { LOOPBACK4 } from './localnet.js';
import { baseOf, type Member, type NftFamily } from './nft-ruleset.js';

// IPv4's table. Its chains only ever accept or drop traffic of guest links,
// of guests' addresses and to their gateways; everything else falls through
// untouched to the host's own tables. Sources are checked first, in the
// antispoof chain (see nft-forward.ts). MSS is clamped to the path MTU
// (cellular and VPN uplinks are small), invalid packets are dropped, and
// guests reach the host itself only with replies, and with DNS to their
// gateway (the daemon's forwarder) over their own link, at a rate per guest
// that keeps one guest's flood from filling the forwarder's socket. The rate
// comes before the accept of established traffic: a flood from one UDP port
// is an established flow once the forwarder has answered it once. A guest
// that reaches another guest's published port is masqueraded to the gateway:
// the other guest would answer it on-link, where it cannot.

// A dhcp guest's client (model/guest-config.ts) asks before it has an address,
// from 0.0.0.0: the antispoof chain lets that through from its link only, to
// port 67. The input chain then makes a request's MAC (chaddr, the raw payload
// @th,288,48: 36 bytes past the UDP header) mean its link: a request from a
// dhcp link must carry that link's MAC, and a guest's MAC from any other link
// (another guest's, the LAN) never reaches the daemon's server. Each dhcp link
// has a kernel rate before the server's socket. The rate and the MAC check come
// before the accept of established traffic, as the DNS rate does: a renewing
// client's flow is established once the server has answered it once. Conntrack, which the nat
// chains need, reassembles fragments first, so a fragment cannot hide chaddr.
const DHCP_LOCAL = '\t\tudp dport 67 iifname @dhcp_links ip saddr 0.0.0.0 udp sport 68 accept\n';

export const NFT4: NftFamily = {
  table: NFT_TABLE_NAME,
  family: 'ip',
  address: 'ipv4_addr',
  view: ipv4Guest,
  sets: [
    'set dns_servers { type ifname . ipv4_addr; }',
    'set dns_rate { type ipv4_addr; flags dynamic; timeout 10s; }',
    'set dhcp_links { type ifname; }',
    'set dhcp_clients { typeof iifname . @th,288,48; }',
    'set dhcp_macs { typeof @th,288,48; }',
    'set dhcp_rate { type ifname; flags dynamic; timeout 10s; }',
    'map port_forwards { type inet_proto . inet_service : ipv4_addr . inet_service; }',
    'map port_forwards_at { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }',
  ],
  antispoofLocal: DHCP_LOCAL,
  loopback: LOOPBACK4,
  dnat: [
    'fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @port_forwards_at',
    'fib daddr type local dnat ip to meta l4proto . th dport map @port_forwards',
  ],
  input: [
    'iifname . ip daddr @dns_servers udp dport 53 update @dns_rate { ip saddr limit rate over 200/second burst 200 packets } drop',
    `udp dport 67 iifname @dhcp_links update @dhcp_rate { iifname limit rate over ${DHCP_RATE}/second burst ${DHCP_RATE} packets } drop`,
    'udp dport 67 @th,288,48 @dhcp_macs iifname . @th,288,48 != @dhcp_clients drop',
    'iifname @guest_links ct state established,related accept',
    'iifname . ip daddr @dns_servers meta l4proto { tcp, udp } th dport 53 accept',
    'udp sport 68 udp dport 67 iifname . @th,288,48 @dhcp_clients accept',
    'iifname @guest_links drop',
  ],
  members: (g) => {
    const link = { ifname: g.hostIf };
    const member = (set: string, key: Member['key'], wanted = true): Member => ({ set, key, wanted });
    return [
      member('dns_servers', [link, g.gateway], g.dnsAtGateway),
      // A guest without dhcp has no link there; its MAC is not a client's, so only the link is looked for.
      member('dhcp_links', [link], g.dhcp !== undefined),
      ...(g.dhcp ? [member('dhcp_clients', [link, { mac: g.dhcp.mac }]), member('dhcp_macs', [{ mac: g.dhcp.mac }])] : []),
    ];
  },
};

export const TABLE = NFT4.table;
export const BASE = baseOf(NFT4);
