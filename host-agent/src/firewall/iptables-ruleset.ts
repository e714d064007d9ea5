import type { GuestRule } from '../model/rules.js';
import { type FamilyGuest, type FamilyName, guestsOf, unique } from './family.js';
import { antispoofRules, bridgedPortRules, filter, nat, type Rule, type Table } from './iptables-rules.js';

// One description of guestnet's iptables rules, for iptables and ip6tables
// alike: each family (iptables4.ts, iptables6.ts) adds only what is its own.

/** What a family's rules need beyond the guests: its addresses, its chains, and its rules of its own. */
export interface IptablesFamily {
  name: FamilyName;
  /** A guest's side in this family, if it has one. */
  view: (rule: GuestRule) => FamilyGuest | undefined;
  /** The length of a host address: 32 or 128. */
  hostBits: number;
  /** Where DNAT sends a port: "address:port", "[address]:port". */
  dnatTarget: (address: string, port: number) => string;
  /** The chains the agent owns, by table. */
  chains: Record<Table, string[]>;
  /** Each owned chain's one jump from a built-in chain. */
  jumps: Rule[];
  /** What a guest link may carry from other sources than its guest's address. */
  localSources: (linkFamilies: string[], guests: FamilyGuest[]) => Rule[];
  /** The loopback network, where the family routes it to guests (IPv4 only: IPv6 never routes ::1 off the host). */
  loopback?: string;
  /** What guests may open to the host itself besides replies, before any link's own checks (the rest is dropped). */
  input: (guests: FamilyGuest[]) => Rule[];
  /** What a link family may open to the host itself besides replies, checked just before that family's replies. */
  linkInput: (linkFamily: string) => Rule[];
}

/** The chains both families own. */
export const CHAINS: Record<Table, string[]> = {
  filter: ['GUESTNET-FORWARD', 'GUESTNET-OPEN', 'GUESTNET-OPEN-TO', 'GUESTNET-INPUT', 'GUESTNET-ANTISPOOF', 'GUESTNET-SOURCES'],
  nat: ['GUESTNET-POSTROUTING', 'GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'],
};

/** The jumps both families make, each at position 1 of its built-in chain. */
export const JUMPS: Rule[] = [
  filter('FORWARD', '-j', 'GUESTNET-FORWARD'),
  filter('INPUT', '-j', 'GUESTNET-INPUT'),
  nat('POSTROUTING', '-j', 'GUESTNET-POSTROUTING'),
  nat('PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'GUESTNET-PREROUTING'),
  nat('OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'GUESTNET-OUTPUT'),
];

const forward = (...spec: string[]) => filter('GUESTNET-FORWARD', ...spec);

/** A port forward's DNAT, the same in prerouting and in output; its comment names the guest's link. */
const dnat = (family: IptablesFamily, g: FamilyGuest, chain: string, f: FamilyGuest['forwards'][number]): Rule =>
  nat(
    chain,
    ...(f.hostAddress === undefined ? [] : ['-d', `${f.hostAddress}/${family.hostBits}`]),
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
    family.dnatTarget(g.address, f.guestPort),
  );

/** Everything one family's chains should hold for `rules` and the bridged guests' `ports`, in order. */
export function ruleset(family: IptablesFamily, rules: readonly GuestRule[], ports: readonly string[] = []): Rule[] {
  const guests = guestsOf(family.view, rules);
  const families = unique(
    guests.map((g) => g.linkFamily),
    (f) => f,
  );
  const exits = unique(guests, (g) => `${g.linkFamily} ${g.uplink}`);
  const masquerades = unique(
    guests.filter((g) => g.masquerade),
    (g) => `${g.pool} ${g.uplink}`,
  );
  const open = guests.filter((g) => g.openToGuests);
  const { loopback } = family;
  return [
    ...antispoofRules(guests, family.hostBits, family.localSources(families, guests)),
    ...ports.flatMap(bridgedPortRules),
    // Cellular and VPN uplinks have small MTUs: clamp every guest connection's MSS to the path.
    ...families.flatMap((f) =>
      ['-i', '-o'].map((dir) =>
        forward(dir, f, '-p', 'tcp', '-m', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu'),
      ),
    ),
    ...families.flatMap((f) => ['-i', '-o'].map((dir) => forward(dir, f, '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'))),
    ...(open.length > 0 ? families.flatMap((from) => families.map((to) => forward('-i', from, '-o', to, '-j', 'GUESTNET-OPEN'))) : []),
    ...exits.flatMap((g) => [
      forward('-i', g.linkFamily, '-o', g.uplink, '-j', 'ACCEPT'),
      forward('-i', g.uplink, '-o', g.linkFamily, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
    ]),
    ...families.flatMap((f) => [
      forward('-o', f, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'),
      forward('-o', f, '-j', 'DROP'),
      forward('-i', f, '-j', 'DROP'),
    ]),
    // Only guests that are both open may talk: the first chain checks the sender, the second the receiver.
    ...open.map((g) => filter('GUESTNET-OPEN', '-i', g.hostIf, '-j', 'GUESTNET-OPEN-TO')),
    ...open.map((g) => filter('GUESTNET-OPEN-TO', '-o', g.hostIf, '-j', 'ACCEPT')),
    ...family.input(guests),
    ...families.flatMap((f) => [
      ...family.linkInput(f),
      filter('GUESTNET-INPUT', '-i', f, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
      filter('GUESTNET-INPUT', '-i', f, '-j', 'DROP'),
    ]),
    ...masquerades.map((g) => nat('GUESTNET-POSTROUTING', '-s', g.pool, '-o', g.uplink, '-j', 'MASQUERADE')),
    // A guest reaching another guest's published port: that guest answers on-link, so the connection must come from the gateway.
    ...unique(guests, (g) => `${g.pool} ${g.linkFamily}`).map((g) =>
      nat('GUESTNET-POSTROUTING', '-s', g.pool, '-o', g.linkFamily, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE'),
    ),
    // The host reaching a published port at 127.0.0.1 (localnet.ts); the guest answers its gateway.
    ...(loopback ? families.map((f) => nat('GUESTNET-POSTROUTING', '-s', loopback, '-o', f, '-j', 'MASQUERADE')) : []),
    // Loopback destinations are the host's alone: a packet from outside or from a guest addressed to one is never forwarded.
    ...(loopback ? [nat('GUESTNET-PREROUTING', '-d', loopback, '-j', 'RETURN')] : []),
    ...guests.flatMap((g) =>
      g.forwards.flatMap((f) => ['GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'].map((chain) => dnat(family, g, chain, f))),
    ),
  ];
}
