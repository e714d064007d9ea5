import type { BridgedVethRecord } from '../model/record.js';
import { SPARE_COMMANDS, type Step } from '../model/step.js';
import { portGuardTable } from '../plan/link-types.js';

// A bridged guest's port lets through only what the guest may say about
// itself, as libvirt's clean-traffic filter does: frames from its own MAC;
// ARP, IPv4 and IPv6, and no other kind of frame (no VLAN tags, no STP);
// ARP that names its own MAC and address; IPv4 from its own address; IPv6
// from addresses that carry its MAC (its link-local, and SLAAC addresses
// made from the MAC); and it may not act as the LAN's DHCP server or router.
// A DHCP guest's address is what the LAN's DHCP server offers or acknowledges
// to its MAC, learned from the server's reply on its way to the guest.
//
// It is an nftables table of the bridge family, one per guest, keyed by the
// record: attach adds it before the port exists, detach deletes it after the
// port is gone. Each is made and removed in one atomic nft transaction, and
// removing one that is already gone succeeds. The bridge family filters
// frames as they enter a bridge port, whatever firewall the host uses for
// IP; it needs nft and a kernel with CONFIG_NF_TABLES_BRIDGE.

/** At most this many addresses a DHCP server may hand one guest before detach. */
const LEASES = 16;

const macBytes = (mac: string): number[] => mac.split(':').map((byte) => Number.parseInt(byte, 16));
const hex = (bytes: number[]): string => bytes.map((b) => b.toString(16).padStart(2, '0')).join('');

/** The modified EUI-64 interface identifier of a MAC: the low 64 bits of the addresses SLAAC makes from it. */
export function interfaceId(mac: string): number[] {
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0] = macBytes(mac);
  return [b0 ^ 0x02, b1, b2, 0xff, 0xfe, b3, b4, b5];
}

/** The identifier as the low half of an IPv6 address, as nft reads it: ::a:b:c:d. */
const asAddressSuffix = (id: number[]): string =>
  `::${[0, 2, 4, 6].map((i) => (((id[i] ?? 0) << 8) | (id[i + 1] ?? 0)).toString(16)).join(':')}`;

// BOOTP fields, in bits from the UDP header: yiaddr (the address handed out) and chaddr (the client's MAC).
const YIADDR = '@th,192,32';
const CHADDR = '@th,288,48';
// ICMPv6 neighbour discovery: the low 64 bits of the target address.
const ND_TARGET_ID = '@th,128,64';

/** The guard's table as one nft script, which replaces any table of the same name. */
export function portGuardScript(r: BridgedVethRecord): string {
  const table = portGuardTable(r);
  const port = JSON.stringify(r.hostIf);
  const mac = r.guestMac;
  const id = interfaceId(mac);
  const learn = (hook: 'forward' | 'output') => [
    `  chain leases_${hook} {`,
    `    type filter hook ${hook} priority -300; policy accept;`,
    `    oifname ${port} udp sport 67 udp dport 68 ${CHADDR} 0x${hex(macBytes(mac))} ${YIADDR} != 0 add @ipv4 { ${YIADDR} }`,
    '  }',
  ];
  return [
    `add table ${table}`,
    `delete table ${table}`,
    `table ${table} {`,
    r.dhcp
      ? `  set ipv4 { typeof ip saddr; size ${LEASES}; flags dynamic; }`
      : `  set ipv4 { typeof ip saddr; elements = { ${r.guestAddress} } }`,
    '  chain from_guest {',
    '    type filter hook prerouting priority -300; policy accept;',
    `    iifname != ${port} accept`,
    `    ether saddr != ${mac} drop`,
    '    ether type vmap { arp : jump arp_from_guest, ip : jump ip_from_guest, ip6 : jump ip6_from_guest }',
    '    drop',
    '  }',
    '  chain arp_from_guest {',
    `    arp htype 1 arp ptype ip arp saddr ether ${mac} arp saddr ip 0.0.0.0 accept`,
    `    arp htype 1 arp ptype ip arp saddr ether ${mac} arp saddr ip @ipv4 accept`,
    '    drop',
    '  }',
    '  chain ip_from_guest {',
    '    udp sport 67 drop',
    '    ip saddr @ipv4 accept',
    '    ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept',
    '    drop',
    '  }',
    '  chain ip6_from_guest {',
    '    icmpv6 type { nd-router-advert, nd-redirect } drop',
    '    udp sport 547 drop',
    `    icmpv6 type nd-neighbor-advert ${ND_TARGET_ID} != 0x${hex(id)} drop`,
    `    ip6 saddr :: icmpv6 type nd-neighbor-solicit ${ND_TARGET_ID} 0x${hex(id)} accept`,
    '    ip6 saddr :: icmpv6 type { mld-listener-report, mld2-listener-report } accept',
    `    ip6 saddr & ::ffff:ffff:ffff:ffff ${asAddressSuffix(id)} accept`,
    '    drop',
    '  }',
    ...(r.dhcp ? [...learn('forward'), ...learn('output')] : []),
    '}',
    '',
  ].join('\n');
}

export const portGuardSteps = {
  addPortGuard: ({ record: r }: { record: BridgedVethRecord }): Step[] => [
    {
      kind: 'run',
      argv: [...SPARE_COMMANDS.nft],
      spare: 'nft',
      input: portGuardScript(r),
      unsupported: {
        when: /Operation not supported|Protocol not supported|Could not process rule: No such file or directory/,
        message:
          'this kernel cannot filter frames on a bridge (CONFIG_NF_TABLES_BRIDGE), so the port cannot be locked to the guest; ' +
          'nothing was changed (--port-security off attaches it as a full layer-2 peer)',
      },
    },
  ],
  // Adding the table first makes deleting it succeed whether or not it was there.
  removePortGuard: ({ record: r }: { record: BridgedVethRecord }): Step[] => [
    {
      kind: 'run',
      argv: [...SPARE_COMMANDS.nft],
      spare: 'nft',
      input: `add table ${portGuardTable(r)}\ndelete table ${portGuardTable(r)}\n`,
    },
  ],
};
