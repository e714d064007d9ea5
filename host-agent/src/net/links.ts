import type { Route } from '../model/host.js';
import { type GuestSeen, isSublink, type PhysBefore, typeOf } from '../model/link-type.js';
import { type AttachmentRecord, HOST_LINK_GROUP } from '../model/record.js';
import type { Reader } from '../model/step.js';

export interface LinksSeen {
  links: Set<string>;
  aliases: Map<string, string>;
  mtus: Map<string, number>;
  groups: Map<string, number>;
}

/** The links of the current netns, with their MTUs and the aliases of those that have one. */
export async function linksWithAliases(runner: Reader): Promise<LinksSeen> {
  const links = JSON.parse(await runner.read(['ip', '-j', 'link', 'show'])) as Array<{
    ifname: string;
    ifalias?: string;
    mtu: number;
    group?: string;
  }>;
  return {
    links: new Set(links.map((link) => link.ifname)),
    aliases: new Map(links.flatMap((link) => (link.ifalias ? [[link.ifname, link.ifalias]] : []))),
    mtus: new Map(links.map((link) => [link.ifname, link.mtu])),
    // "default" is group 0; other groups print as their number.
    groups: new Map(links.map((link) => [link.ifname, /^\d+$/.test(link.group ?? '') ? Number(link.group) : 0])),
  };
}

/** The main table's IPv4 routes. */
export async function mainRoutes(runner: Reader): Promise<Route[]> {
  const routes = JSON.parse(await runner.read(['ip', '-j', '-4', 'route', 'show'])) as Array<{
    dst: string;
    dev?: string;
    metric?: number;
  }>;
  return routes.flatMap((r) =>
    r.dev === undefined ? [] : [{ dst: r.dst, dev: r.dev, ...(r.metric === undefined ? {} : { metric: r.metric }) }],
  );
}

/** A NIC as it is now: what phys must give back on detach. */
export async function physState(runner: Reader, name: string): Promise<PhysBefore | undefined> {
  const shown = JSON.parse(await runner.read(['ip', '-j', 'address', 'show', 'dev', name]).catch(() => '[]')) as Array<{
    flags: string[];
    mtu: number;
    ifalias?: string;
    addr_info?: Array<{ family: string; local?: string; prefixlen: number; scope?: string; dynamic?: boolean }>;
  }>;
  const [link] = shown;
  if (!link) return undefined;
  // Link-local IPv6 addresses come back by themselves; addresses a DHCP client or SLAAC gave are its to give again.
  const kept = (link.addr_info ?? []).filter((a) => a.local !== undefined && a.scope !== 'link' && !a.dynamic);
  return {
    addresses: kept.map((a) => `${a.local}/${a.prefixlen}`),
    up: link.flags.includes('UP'),
    mtu: link.mtu,
    alias: link.ifalias ?? '',
  };
}

/**
 * What a sublink or empty guest's netns shows of its attach (GuestSeen);
 * undefined for other types, and when the guest cannot be looked at: it is
 * gone, and there is nothing to complete.
 */
export async function lookIntoGuest(runner: Reader, record: AttachmentRecord): Promise<GuestSeen | undefined> {
  if (!isSublink(record) && typeOf(record) !== 'empty') return undefined;
  const shown = await runner.read(['nsenter', `--net=${record.netnsPath}`, 'ip', '-j', 'link', 'show']).catch(() => undefined);
  if (shown === undefined) return undefined;
  const links = JSON.parse(shown) as Array<{ ifname: string; flags: string[]; group?: string }>;
  return {
    ourLink: links.some((link) => link.group === String(HOST_LINK_GROUP)),
    loopbackUp: links.some((link) => link.ifname === 'lo' && link.flags.includes('UP')),
  };
}
