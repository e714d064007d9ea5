import { ipv6Guest } from './family.js';
import { baseOf, type NftFamily } from './nft-ruleset.js';

// IPv6's table, beside IPv4's and shaped like it, made while any guest has
// IPv6 and removed with the last. A guest's link carries only its own
// address, but for ICMPv6 from link-local or unspecified sources: neighbour
// discovery, which never leaves the link. Neighbour discovery to the host must
// pass, or the guest has no IPv6 at all, but at a rate per link: each
// solicitation can make the host a neighbour entry, in a table the whole
// machine shares. ICMPv6 errors of a guest's flows, packet-too-big above all,
// are RELATED. Forwards bound to an IPv4 host address have no IPv6 side.
// A dhcp guest reaches the daemon's DNS forwarder at its IPv6 gateway, the
// RDNSS its router advertisements name, as IPv4's table lets every guest reach
// it at the IPv4 gateway: over its own link only, at a rate per source that
// comes before the accept of established traffic.

const ND = 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit }';

export const NFT6: NftFamily = {
  table: 'ip6 guestnet',
  family: 'ip6',
  address: 'ipv6_addr',
  view: ipv6Guest,
  sets: [
    'set nd_rate { type ifname; flags dynamic; timeout 10s; }',
    'set dns_servers { type ifname . ipv6_addr; }',
    'set dns_rate { type ipv6_addr; flags dynamic; timeout 10s; }',
    'map port_forwards { type inet_proto . inet_service : ipv6_addr . inet_service; }',
  ],
  antispoofLocal: '\t\tiifname @guest_links ip6 saddr { fe80::/10, :: } meta l4proto ipv6-icmp accept\n',
  dnat: ['fib daddr type local dnat ip6 to meta l4proto . th dport map @port_forwards'],
  input: [
    `iifname @guest_links ${ND} update @nd_rate { iifname limit rate over 10/second burst 20 packets } drop`,
    `iifname @guest_links ${ND} accept`,
    'iifname . ip6 daddr @dns_servers udp dport 53 update @dns_rate { ip6 saddr limit rate over 200/second burst 200 packets } drop',
    'iifname @guest_links ct state established,related accept',
    'iifname . ip6 daddr @dns_servers meta l4proto { tcp, udp } th dport 53 accept',
    'iifname @guest_links drop',
  ],
  members: (g) => [{ set: 'dns_servers', key: [{ ifname: g.hostIf }, g.gateway], wanted: g.dnsAtGateway }],
};

export const TABLE6 = NFT6.table;
export const BASE6 = baseOf(NFT6);
