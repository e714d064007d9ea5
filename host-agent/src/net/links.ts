import type { Route } from '../model/host.js';
import { hostQueries } from '../model/host-queries.js';
import type { GuestSeen, PhysBefore } from '../model/link-type.js';
import { isNic, type LinkDetails, type NicSeen, nicIdentityOf, notANic } from '../model/nic.js';
import { type AttachmentRecord, HOST_LINK_GROUP, type PhysRecord } from '../model/record.js';
import type { Reader } from '../model/step.js';

export interface LinksSeen {
  links: Set<string>;
  aliases: Map<string, string>;
  mtus: Map<string, number>;
  groups: Map<string, number>;
  /** Links that are not up; a deep look only. */
  down?: Set<string>;
}

/** The links of the current netns, with their MTUs and the aliases of those that have one. */
export async function linksWithAliases(runner: Reader): Promise<LinksSeen> {
  const links = JSON.parse(await runner.query(hostQueries.links)) as Array<{
    ifname: string;
    ifalias?: string;
    mtu: number;
    group?: string;
    flags?: string[];
  }>;
  return {
    links: new Set(links.map((link) => link.ifname)),
    aliases: new Map(links.flatMap((link) => (link.ifalias ? [[link.ifname, link.ifalias]] : []))),
    mtus: new Map(links.map((link) => [link.ifname, link.mtu])),
    // "default" is group 0; other groups print as their number.
    groups: new Map(links.map((link) => [link.ifname, /^\d+$/.test(link.group ?? '') ? Number(link.group) : 0])),
    down: new Set(links.filter((link) => !link.flags?.includes('UP')).map((link) => link.ifname)),
  };
}

/** The main table's IPv4 routes. */
export async function mainRoutes(runner: Reader): Promise<Route[]> {
  const routes = JSON.parse(await runner.query(hostQueries.mainRoutes4)) as Array<{
    dst: string;
    dev?: string;
    metric?: number;
  }>;
  return routes.flatMap((r) =>
    r.dev === undefined ? [] : [{ dst: r.dst, dev: r.dev, ...(r.metric === undefined ? {} : { metric: r.metric }) }],
  );
}

type Shown = LinkDetails & {
  flags: string[];
  mtu: number;
  addr_info?: Array<{ family: string; local?: string; prefixlen: number; scope?: string; dynamic?: boolean }>;
};

/**
 * A link as it is now: what phys must give back on detach, with the NIC's
 * identity, or why the link is not a NIC. One `ip` process of every link,
 * which a daemon remembers (hostQueries.linkDetails).
 */
export async function physState(runner: Reader, name: string): Promise<{ before: PhysBefore; notNic: string | undefined } | undefined> {
  const shown = JSON.parse(await runner.query(hostQueries.linkDetails)) as Shown[];
  const link = shown.find((l) => l.ifname === name);
  if (!link) return undefined;
  // Link-local IPv6 addresses come back by themselves; addresses a DHCP client or SLAAC gave are its to give again.
  const kept = (link.addr_info ?? []).filter((a) => a.local !== undefined && a.scope !== 'link' && !a.dynamic);
  const nic = nicIdentityOf(link);
  const before: PhysBefore = {
    addresses: kept.map((a) => `${a.local}/${a.prefixlen}`),
    up: link.flags.includes('UP'),
    mtu: link.mtu,
    alias: link.ifalias ?? '',
    ...(nic ? { nic } : {}),
  };
  return { before, notNic: notANic(link) };
}

/**
 * Where a phys guest's NIC is now, looked for by its identity inside the
 * guest (when it lives) and on the host: under our passing name, where a
 * fetch leaves it, or carrying our mark (the passing name, as a fetch leaves
 * it, or the token, as the kernel returns a NIC whose netns died). A record of an older version knows no identity: there any
 * hardware NIC with our mark is it.
 */
export async function locateNic(runner: Reader, record: PhysRecord, known: { guestAlive: boolean; passing: string }): Promise<NicSeen> {
  const [host, guest] = await Promise.all([
    runner.read(['ip', '-d', '-j', 'link', 'show']).then((text) => JSON.parse(text) as LinkDetails[]),
    known.guestAlive
      ? runner.read(['nsenter', `--net=${record.netnsPath}`, 'ip', '-d', '-j', 'link', 'show']).then(
          (text) => JSON.parse(text) as LinkDetails[],
          () => undefined,
        )
      : undefined,
  ]);
  const identity = record.phys.nic;
  // Our mark: the token, as the NIC went into the guest, or the passing name, as a fetch brings it back.
  const marked = (link: LinkDetails) => link.ifalias === record.token || link.ifalias === known.passing;
  const isIt = (link: LinkDetails) => (identity ? isNic(link, identity) : nicIdentityOf(link) !== undefined && marked(link));
  const onHost = host.find((link) => isIt(link) && (link.ifname === known.passing || marked(link)));
  const impostor = host.find((link) => link.ifname === known.passing && !isIt(link));
  const inGuest = guest?.find(isIt);
  return {
    guestAlive: guest !== undefined,
    ...(inGuest ? { inGuest: inGuest.ifname } : {}),
    ...(onHost ? { onHost: onHost.ifname } : {}),
    ...(impostor ? { impostor: impostor.ifname } : {}),
  };
}

/**
 * What a sublink or empty guest's netns shows of its attach (GuestSeen), or
 * for phys whether the host link of the NIC's name is the NIC; undefined for
 * other types, and when the guest cannot be looked at: it is gone, and there
 * is nothing to complete.
 */
export async function lookIntoGuest(runner: Reader, record: AttachmentRecord): Promise<GuestSeen | undefined> {
  // phys: whether the host link under the NIC's name is the NIC, for an attach cut short before the handover.
  const nic = record.type === 'phys' ? record.phys.nic : undefined;
  if (record.type === 'phys' && nic !== undefined) {
    const shown = await runner.read(['ip', '-d', '-j', 'link', 'show', 'dev', record.link]).catch(() => '[]');
    const [link] = JSON.parse(shown) as LinkDetails[];
    return { ourLink: true, loopbackUp: true, nicOnHost: link !== undefined && isNic(link, nic) };
  }
  if (!['macvlan', 'ipvlan', 'vlan', 'empty'].includes(record.type)) return undefined;
  const shown = await runner.read(['nsenter', `--net=${record.netnsPath}`, 'ip', '-j', 'link', 'show']).catch(() => undefined);
  if (shown === undefined) return undefined;
  const links = JSON.parse(shown) as Array<{ ifname: string; flags: string[]; group?: string }>;
  return {
    ourLink: links.some((link) => link.group === String(HOST_LINK_GROUP)),
    loopbackUp: links.some((link) => link.ifname === 'lo' && link.flags.includes('UP')),
  };
}

/** The tables of nftables' bridge family, as "bridge NAME". */
export async function bridgeTables(runner: Reader): Promise<Set<string>> {
  const listed = await runner.read(['nft', 'list', 'tables', 'bridge']);
  return new Set(listed.split('\n').flatMap((line) => (/^table bridge \S+$/.test(line) ? [line.slice('table '.length)] : [])));
}
