import type { GuestRule } from '../model/rules.js';
import { type FamilyGuest, guestsOf } from './family.js';
import { antispoofChain, forwardChain } from './nft-forward.js';

// One description of guestnet's nftables tables, for `ip` and `ip6` alike:
// each family (nftables4.ts, nftables6.ts) adds only what is its own. Per-guest
// data lives in sets, so a guest is a few set elements: adding or removing one
// never rewrites or rescans the rules. What a guest puts in the sets is written
// once, as members, from which both the transaction's elements and the check
// of a listed table are made.

/**
 * A part of a set member: an interface name is quoted where nft reads it, and
 * listed bare; a MAC is the 48-bit number nft compares a raw payload with,
 * written in hex and listed in decimal.
 */
export type Part = string | { ifname: string } | { mac: string };

/** One member of a set or map; `wanted: false` names one that must be absent (an option the guest does not take). */
export interface Member {
  set: string;
  key: Part[];
  value?: Part[];
  wanted: boolean;
}

export interface NftFamily {
  /** "ip guestnet", "ip6 guestnet". */
  table: string;
  family: 'ip' | 'ip6';
  address: 'ipv4_addr' | 'ipv6_addr';
  /** A guest's side in this family, if it has one. */
  view: (rule: GuestRule) => FamilyGuest | undefined;
  /** Sets of this family's own, and its maps of forwards, after the ones both have. */
  sets: string[];
  /** What a guest link carries from other sources than its guest's address. */
  antispoofLocal: string;
  /** The loopback network, where the family routes it to guests (IPv4 only: IPv6 never routes ::1 off the host). */
  loopback?: string;
  /** The DNAT rules, the same in prerouting and in output. */
  dnat: string[];
  /** What guests may open to the host itself. */
  input: string[];
  /** A guest's members of this family's own sets. */
  members: (g: FamilyGuest) => Member[];
}

const link = (g: FamilyGuest) => ({ ifname: g.hostIf });
const uplink = (g: FamilyGuest) => ({ ifname: g.uplink });

/** The table's definition, made afresh at install. */
export function baseOf(f: NftFamily): string {
  const chain = (name: string, hook: string, rules: string[]) =>
    [`\tchain ${name} {`, `\t\ttype ${hook}; policy accept;`, ...rules.map((r) => `\t\t${r}`), '\t}'].join('\n');
  return `table ${f.table} {
	set guest_links { type ifname; }
	set forward_pairs { type ifname . ifname; }
	set guest_sources { type ifname . ${f.address}; }
	set guest_addresses { type ${f.address}; }
	set gateways { type ${f.address}; }
	set masquerade_sources { type ${f.address} . ifname; }
	set open_links { type ifname; }
${f.sets.map((s) => `\t${s}`).join('\n')}
${antispoofChain(f.family, f.antispoofLocal)}
${chain('prerouting', 'nat hook prerouting priority dstnat', [
  // Loopback destinations are the host's alone: a packet from outside or from a guest addressed to one is never forwarded.
  ...(f.loopback ? [`${f.family} daddr ${f.loopback} return`] : []),
  ...f.dnat,
])}
${chain('output', 'nat hook output priority -100', f.dnat)}
${forwardChain()}
${chain('input', 'filter hook input priority filter', f.input)}
${chain('postrouting', 'nat hook postrouting priority srcnat', [
  'iifname @guest_links oifname @guest_links ct status dnat masquerade',
  `${f.family} saddr . oifname @masquerade_sources masquerade`,
  // The host reaching a published port at 127.0.0.1 (localnet.ts); the guest answers its gateway.
  ...(f.loopback ? [`oifname @guest_links ${f.family} saddr ${f.loopback} masquerade`] : []),
])}
}`;
}

/** Every member a guest's rule puts in this family's table, and those it must not. */
export function membersOf(f: NftFamily, g: FamilyGuest): Member[] {
  const member = (set: string, key: Part[], wanted = true): Member => ({ set, key, wanted });
  return [
    member('guest_links', [link(g)]),
    member('forward_pairs', [link(g), uplink(g)]),
    member('guest_sources', [link(g), g.address]),
    member('guest_addresses', [g.address]),
    member('masquerade_sources', [g.address, uplink(g)], g.masquerade),
    ...f.members(g),
    member('open_links', [link(g)], g.openToGuests),
    ...g.forwards.map(
      (fw): Member => ({
        set: fw.hostAddress === undefined ? 'port_forwards' : 'port_forwards_at',
        key: [...(fw.hostAddress === undefined ? [] : [fw.hostAddress]), fw.protocol, String(fw.hostPort)],
        value: [g.address, String(fw.guestPort)],
        wanted: true,
      }),
    ),
  ];
}

function partText(p: Part, input: boolean): string {
  if (typeof p === 'string') return p;
  if ('ifname' in p) return input ? `"${p.ifname}"` : p.ifname;
  const hex = p.mac.toLowerCase().split(':').join('');
  return input ? `0x${hex}` : String(Number.parseInt(hex, 16));
}

const text = (parts: Part[], input: boolean) => parts.map((p) => partText(p, input)).join(' . ');

/** A member as `nft -j` lists it: "a . b", or "a . b : c . d" in a map. */
export const listed = (m: Member) => `${text(m.key, false)}${m.value ? ` : ${text(m.value, false)}` : ''}`;

/** A member as an element of nft's input: `set { "a" . b }`. */
const element = (m: Member) => `${m.set} { ${text(m.key, true)}${m.value ? ` : ${text(m.value, true)}` : ''} }`;

/** A guest's own elements in this family's table; none where it has no side in it. */
export const elementsOf = (f: NftFamily, rule: GuestRule): string[] => {
  const g = f.view(rule);
  return g ? membersOf(f, g).flatMap((m) => (m.wanted ? [element(m)] : [])) : [];
};

/** Elements guests may share (many links have one gateway): kept while any guest needs them. */
export const sharedElementsOf = (f: NftFamily, rules: readonly GuestRule[]): string[] => [
  ...new Set(guestsOf(f.view, rules).map((g) => `gateways { ${g.gateway} }`)),
];
