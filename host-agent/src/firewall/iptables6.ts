import { ipv6Guest, unique } from './family.js';
import { dnsToGateway, filter } from './iptables-rules.js';
import { CHAINS, type IptablesFamily, JUMPS } from './iptables-ruleset.js';

// ip6tables' rules of IPv6's own. Each guest's link carries only its own
// address, but for ICMPv6 from link-local or unspecified sources: neighbour
// discovery, which never leaves the link. Neighbour discovery to the host is
// rate-limited per link: each solicitation can make the host a neighbour
// entry, in a table the whole machine shares. ICMPv6 errors of a guest's
// flows are RELATED. A dhcp guest reaches the daemon's DNS forwarder at its
// IPv6 gateway, the RDNSS its router advertisements name, from its own link
// only (its exact name: agent guests on the same link family are not let in).

/** Neighbour solicitation and advertisement, router solicitation: by number, as ip6tables-save prints them. */
const ND_TYPES = ['135', '136', '133'];
/** Far above what a guest needs (a few at boot, one every reachable time after), far below what fills the neighbour table. */
const ND_LIMIT = ['-m', 'limit', '--limit', '10/sec', '--limit-burst', '20'];

export const IPTABLES6: IptablesFamily = {
  name: '6',
  view: ipv6Guest,
  hostBits: 128,
  dnatTarget: (address, port) => `[${address}]:${port}`,
  chains: { ...CHAINS, filter: [...CHAINS.filter, 'GUESTNET-ND'] },
  jumps: JUMPS,
  localSources: (families) =>
    families.flatMap((f) =>
      ['fe80::/10', '::/128'].map((source) => filter('GUESTNET-ANTISPOOF', '-s', source, '-i', f, '-p', 'ipv6-icmp', '-j', 'RETURN')),
    ),
  linkInput: (f) =>
    ND_TYPES.map((type) => filter('GUESTNET-INPUT', '-i', f, '-p', 'ipv6-icmp', '-m', 'icmp6', '--icmpv6-type', type, '-j', 'GUESTNET-ND')),
  input: (guests) => [
    ...unique(
      guests.filter((g) => g.dnsAtGateway),
      (g) => `${g.hostIf} ${g.gateway}`,
    ).flatMap((g) => dnsToGateway(`${g.gateway}/128`, g.hostIf)),
    // One budget per link: a limit is kept per rule.
    ...guests.map((g) => filter('GUESTNET-ND', '-i', g.hostIf, ...ND_LIMIT, '-j', 'ACCEPT')),
    ...(guests.length > 0 ? [filter('GUESTNET-ND', '-j', 'DROP')] : []),
  ],
};
