import type { GuestRule } from '../model/rules.js';

// ip6tables' rules, in the same chains as IPv4's and in the same order of
// checks (see iptables.ts). IPv6 has no rp_filter, so each guest's link
// accepts only its own source address; neighbour discovery to the gateway
// passes; ICMPv6 errors of a guest's flows are RELATED.

export type Table = 'filter' | 'nat';
export interface Rule {
  table: Table;
  chain: string;
  spec: string[];
}

export const unique = <T>(items: T[], key: (item: T) => string): T[] => [...new Map(items.map((i) => [key(i), i])).values()];
export const filter = (chain: string, ...spec: string[]): Rule => ({ table: 'filter', chain, spec });
export const nat = (chain: string, ...spec: string[]): Rule => ({ table: 'nat', chain, spec });

const ND_TYPES = ['neighbour-solicitation', 'neighbour-advertisement', 'router-solicitation'];

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
  return [
    ...families.flatMap((f) =>
      ['-i', '-o'].map((dir) =>
        forward(dir, f, '-p', 'tcp', '-m', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu'),
      ),
    ),
    ...families.flatMap((f) => ['-i', '-o'].map((dir) => forward(dir, f, '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'))),
    ...guests.map((g) => forward('-i', g.hostIf, '!', '-s', `${g.ipv6.guestAddress}/128`, '-j', 'DROP')),
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
      filter('GUESTNET-INPUT', '-i', f, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
      ...ND_TYPES.map((type) => filter('GUESTNET-INPUT', '-i', f, '-p', 'ipv6-icmp', '-m', 'icmp6', '--icmpv6-type', type, '-j', 'ACCEPT')),
      filter('GUESTNET-INPUT', '-i', f, '-j', 'DROP'),
    ]),
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
