import type { GuestRule } from '../model/rules.js';
import { antispoofRules, filter, nat, type Rule, unique } from './iptables-rules.js';

// ip6tables' rules, in the same chains as IPv4's and in the same order of
// checks (see iptables.ts). Each guest's link carries only its own address,
// but for ICMPv6 from link-local or unspecified sources: neighbour discovery,
// which never leaves the link. Neighbour discovery to the host is rate-limited
// per link: each solicitation can make the host a neighbour entry, in a table
// the whole machine shares. ICMPv6 errors of a guest's flows are RELATED.

/** Neighbour solicitation and advertisement, router solicitation: by number, as ip6tables-save prints them. */
const ND_TYPES = ['135', '136', '133'];
/** Far above what a guest needs (a few at boot, one every reachable time after), far below what fills the neighbour table. */
export const ND_LIMIT = ['-m', 'limit', '--limit', '10/sec', '--limit-burst', '20'];

type Guest6 = GuestRule & { ipv6: NonNullable<GuestRule['ipv6']> };

/** Everything the agent's ip6tables chains should hold for the guests that have IPv6, in order. */
export function ruleset6(all: GuestRule[]): Rule[] {
  const guests = all.filter((g): g is Guest6 => g.ipv6 !== undefined);
  const families = unique(
    guests.map((g) => g.linkFamily),
    (f) => f,
  );
  const exits = unique(guests, (g) => `${g.linkFamily} ${g.ipv6.uplink}`);
  const masquerades = unique(
    guests.filter((g) => g.ipv6.masquerade),
    (g) => `${g.ipv6.pool} ${g.ipv6.uplink}`,
  );
  const open = guests.filter((g) => g.openToGuests);
  const forward = (...spec: string[]) => filter('GUESTNET-FORWARD', ...spec);
  const sources = guests.map((g) => ({
    hostIf: g.hostIf,
    linkFamily: g.linkFamily,
    address: g.ipv6.guestAddress,
    gateway: g.ipv6.gateway,
    pool: g.ipv6.pool,
  }));
  const linkLocal = families.flatMap((f) =>
    ['fe80::/10', '::/128'].map((source) => filter('GUESTNET-ANTISPOOF', '-s', source, '-i', f, '-p', 'ipv6-icmp', '-j', 'RETURN')),
  );
  return [
    ...antispoofRules(sources, 128, linkLocal),
    ...families.flatMap((f) =>
      ['-i', '-o'].map((dir) =>
        forward(dir, f, '-p', 'tcp', '-m', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu'),
      ),
    ),
    ...families.flatMap((f) => ['-i', '-o'].map((dir) => forward(dir, f, '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'))),
    ...(open.length > 0 ? families.flatMap((from) => families.map((to) => forward('-i', from, '-o', to, '-j', 'GUESTNET-OPEN'))) : []),
    ...exits.flatMap((g) => [
      forward('-i', g.linkFamily, '-o', g.ipv6.uplink, '-j', 'ACCEPT'),
      forward('-i', g.ipv6.uplink, '-o', g.linkFamily, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
    ]),
    ...families.flatMap((f) => [
      forward('-o', f, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'),
      forward('-o', f, '-j', 'DROP'),
      forward('-i', f, '-j', 'DROP'),
    ]),
    ...open.map((g) => filter('GUESTNET-OPEN', '-i', g.hostIf, '-j', 'GUESTNET-OPEN-TO')),
    ...open.map((g) => filter('GUESTNET-OPEN-TO', '-o', g.hostIf, '-j', 'ACCEPT')),
    ...families.flatMap((f) => [
      ...ND_TYPES.map((type) =>
        filter('GUESTNET-INPUT', '-i', f, '-p', 'ipv6-icmp', '-m', 'icmp6', '--icmpv6-type', type, '-j', 'GUESTNET-ND'),
      ),
      filter('GUESTNET-INPUT', '-i', f, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
      filter('GUESTNET-INPUT', '-i', f, '-j', 'DROP'),
    ]),
    // One budget per link: a limit is kept per rule.
    ...guests.map((g) => filter('GUESTNET-ND', '-i', g.hostIf, ...ND_LIMIT, '-j', 'ACCEPT')),
    ...(guests.length > 0 ? [filter('GUESTNET-ND', '-j', 'DROP')] : []),
    ...masquerades.map((g) => nat('GUESTNET-POSTROUTING', '-s', g.ipv6.pool, '-o', g.ipv6.uplink, '-j', 'MASQUERADE')),
    ...unique(guests, (g) => `${g.ipv6.pool} ${g.linkFamily}`).map((g) =>
      nat('GUESTNET-POSTROUTING', '-s', g.ipv6.pool, '-o', g.linkFamily, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE'),
    ),
    ...guests.flatMap((g) =>
      g.forwards
        .filter((f) => f.hostAddress === undefined)
        .flatMap((f) =>
          ['GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'].map((chain) =>
            nat(
              chain,
              '-p',
              f.protocol,
              '-m',
              f.protocol,
              '--dport',
              String(f.hostPort),
              '-m',
              'comment',
              '--comment',
              `guestnet:${g.hostIf}`,
              '-j',
              'DNAT',
              '--to-destination',
              `[${g.ipv6.guestAddress}]:${f.guestPort}`,
            ),
          ),
        ),
    ),
  ];
}
