import { isIPv6 } from 'node:net';
import type { Step } from '../model/step.js';

// Router advertisements for guest links with IPv6, by radvd: Node has no raw
// ICMPv6 socket, and radvd is what lxc-net and libvirt setups run for the
// same job. The daemon writes its whole config from the guest links it
// knows, so radvd advertises on those links and on no other: a link that is
// not in the file is never spoken on, the uplink included.
//
// Each link gets a /64 of its own, the prefix a guest's kernel forms its
// SLAAC address in (on-link, autonomous), the gateway's address as RDNSS,
// and the link's MTU. The host routes that /64 over the link.

export interface RaLink {
  /** The host end of the guest's link. */
  link: string;
  /** The link's own /64, "2001:db8:1:3::/64". */
  prefix: string;
  /** Where the guest resolves: the daemon's DNS forwarder on the gateway's IPv6 address. */
  rdnss: readonly string[];
  mtu: number;
}

/** A link the daemon handed over that radvd's file could not carry safely: a bug upstream, never written. */
export class RaConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaConfigError';
  }
}

/** An interface name as the kernel allows it (IFNAMSIZ), and nothing radvd's grammar would read as more. */
const LINK_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** radvd's RDNSS option carries up to three servers. */
const MAX_RDNSS = 3;

function checked(ra: RaLink): RaLink {
  if (!LINK_NAME.test(ra.link) || ra.link === 'lo')
    throw new RaConfigError(`router advertisements: bad link name ${JSON.stringify(ra.link)}`);
  const [address = '', length] = ra.prefix.split('/');
  if (!isIPv6(address) || length !== '64') throw new RaConfigError(`router advertisements on ${ra.link}: ${ra.prefix} is not an IPv6 /64`);
  if (ra.rdnss.length > MAX_RDNSS || !ra.rdnss.every((server) => isIPv6(server)))
    throw new RaConfigError(`router advertisements on ${ra.link}: bad RDNSS ${ra.rdnss.join(' ')}`);
  if (!Number.isInteger(ra.mtu) || ra.mtu < 1280 || ra.mtu > 65535)
    throw new RaConfigError(`router advertisements on ${ra.link}: bad MTU ${ra.mtu}`);
  return ra;
}

function block(ra: RaLink): string {
  const rdnss = ra.rdnss.length > 0 ? [`\tRDNSS ${ra.rdnss.join(' ')} {`, '\t};'] : [];
  return [
    `interface ${ra.link} {`,
    '\tAdvSendAdvert on;',
    // A guest link may come and go while radvd runs: radvd waits for it rather than exiting.
    '\tIgnoreIfMissing on;',
    `\tAdvLinkMTU ${ra.mtu};`,
    `\tprefix ${ra.prefix} {`,
    '\t\tAdvOnLink on;',
    '\t\tAdvAutonomous on;',
    '\t};',
    ...rdnss,
    '};',
  ].join('\n');
}

/** radvd.conf for `links`, which must be guest links only; links are written in name order, so the same set gives the same file. */
export function radvdConfig(links: readonly RaLink[]): string {
  const sorted = [...links].map(checked).sort((a, b) => a.link.localeCompare(b.link));
  const seen = new Set<string>();
  for (const { link } of sorted) {
    if (seen.has(link)) throw new RaConfigError(`router advertisements: ${link} is listed twice`);
    seen.add(link);
  }
  return `# written by guestnet host-agent: router advertisements on guest links only\n${sorted.map(block).join('\n')}\n`;
}

/**
 * The host never takes router advertisements, nor redirects, from a guest
 * link. With IPv6 forwarding on, the daemon sets accept_ra=2 on `default` so
 * that interfaces made later keep their routers: a guest link made after that
 * would take a guest's RA, and a hostile guest could become the host's router.
 */
export function hostEndSysctls(link: string): Step[] {
  return [
    { kind: 'sysctl', path: `/proc/sys/net/ipv6/conf/${link}/accept_ra`, value: '0', ifPresent: true },
    { kind: 'sysctl', path: `/proc/sys/net/ipv6/conf/${link}/accept_redirects`, value: '0', ifPresent: true },
  ];
}
