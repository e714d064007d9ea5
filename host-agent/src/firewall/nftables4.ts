import { NFT_TABLE_NAME } from '../model/rules.js';
import { ipv4Guest } from './family.js';
import { LOOPBACK4 } from './localnet.js';
import { baseOf, type NftFamily } from './nft-ruleset.js';

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

export const NFT4: NftFamily = {
  table: NFT_TABLE_NAME,
  family: 'ip',
  address: 'ipv4_addr',
  view: ipv4Guest,
  sets: [
    'set dns_servers { type ifname . ipv4_addr; }',
    'set dns_rate { type ipv4_addr; flags dynamic; timeout 10s; }',
    'map port_forwards { type inet_proto . inet_service : ipv4_addr . inet_service; }',
    'map port_forwards_at { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }',
  ],
  antispoofLocal: '',
  loopback: LOOPBACK4,
  dnat: [
    'fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @port_forwards_at',
    'fib daddr type local dnat ip to meta l4proto . th dport map @port_forwards',
  ],
  input: [
    'iifname . ip daddr @dns_servers udp dport 53 update @dns_rate { ip saddr limit rate over 200/second burst 200 packets } drop',
    'iifname @guest_links ct state established,related accept',
    'iifname . ip daddr @dns_servers meta l4proto { tcp, udp } th dport 53 accept',
    'iifname @guest_links drop',
  ],
  members: (g) => [{ set: 'dns_servers', key: [{ ifname: g.hostIf }, g.gateway], wanted: true }],
};

export const TABLE = NFT4.table;
export const BASE = baseOf(NFT4);
