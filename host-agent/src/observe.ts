import { stat } from 'node:fs/promises';
import { ipv4ToInt } from '@guestnet/protocol';
import type { Firewall } from './firewall/firewall.js';
import type { HostObserved, Route } from './model/host.js';
import { IP_FORWARD_PATH } from './model/paths.js';
import { rangeOf } from './model/pool.js';
import { type AttachmentRecord, hostEndOf, hostLinkAlias, isBridged, isRouted } from './model/record.js';
import { FIREWALL_NOT_LOOKED_AT } from './model/rules.js';
import type { Reader } from './model/step.js';
import { type LinksSeen, linksWithAliases, mainRoutes } from './net/links.js';
import { observeIpv6 } from './net/ipv6.js';
import { observePolicy } from './net/policy.js';
import { readIpForwardBefore } from './state/records.js';
import { readSmallFile } from '@guestnet/runtime';

/** A narrow look: these links, and IPv6, bridged ports and IPv6's chains where asked for (observeHost). */
export interface Scope {
  /** 'all': every link, which a daemon remembers (a bridged veth's host end needs a name no link has). */
  links: string[] | 'all';
  /** false: the firewall is not looked at, for a type with no rules of its own (FIREWALL_NOT_LOOKED_AT). */
  firewall?: false;
  ipv6?: boolean;
  bridged?: boolean;
  ipv6Chains?: boolean;
}

/**
 * Reads what the planners need, in parallel; changes nothing.
 *
 * With a scope, the view is narrow: only those links, the default routes,
 * and whether the agent's table or chains exist. That is all a fresh attach or a detach needs (their changes are
 * idempotent), and it costs the same with 1 guest or 500. Without,
 * everything: every link and route, every guest's firewall entries and ip
 * rules, for re-attach and the reconcile loop. IPv6 is looked at where a
 * guest has it, or when the scope asks for it; the firewall's also where a
 * bridged guest is (its port is let through ip6tables too), and where the
 * scope says IPv6's chains may come or go with this change (`ipv6Chains`).
 */
export async function observeHost(
  runner: Reader,
  stateDir: string,
  firewall: Firewall,
  records: readonly AttachmentRecord[],
  scope?: Scope,
): Promise<HostObserved> {
  const deep = scope === undefined;
  // A deep look reads IPv6 only for guests that have it: the reconcile loop runs it often.
  const withIpv6 = deep ? records.some((r) => isRouted(r) && r.ipv6) : scope.ipv6 === true;
  // The host's IPv6 also where an auto guest may gain it (plan/ipv6-follow.ts); the firewall's and rules' only where a guest has it.
  const hostIpv6 = withIpv6 || (deep && records.some((r) => isRouted(r) && r.ipv6Auto));
  const [{ links, aliases, mtus, groups, down }, mainTable, ipForward, ipForwardBefore, firewallState, policy, ipv6] = await Promise.all([
    deep || scope.links === 'all' ? linksWithAliases(runner) : existingLinksWithAliases(scope.links),
    deep ? mainRoutes(runner) : undefined,
    readSmallFile(IP_FORWARD_PATH).then((text) => text.trim()),
    readIpForwardBefore(stateDir),
    scope?.firewall === false
      ? FIREWALL_NOT_LOOKED_AT
      : firewall.observe(runner, deep, withIpv6, {
          ports: deep ? records.some(isBridged) : scope.bridged === true,
          chains: !deep && scope.ipv6Chains === true,
        }),
    observePolicy(runner, deep, withIpv6),
    hostIpv6 ? observeIpv6(runner, stateDir, deep && withIpv6) : undefined,
  ]);
  // The policy's default routes of every table include main's: a narrow view needs no more.
  const routes = mainTable ?? policy.defaults.flatMap(({ table, ...route }) => (table === 'main' ? [{ dst: 'default', ...route }] : []));
  return {
    links,
    aliases,
    mtus,
    groups,
    ...(down ? { down } : {}),
    routes,
    ipForward,
    ipForwardBefore,
    ...(ipv6 ? { ipv6 } : {}),
    records,
    firewall: firewallState,
    policy,
  };
}

/** Which of `names` exist, with their aliases and MTUs, from sysfs. */
export async function existingLinksWithAliases(names: string[]): Promise<LinksSeen> {
  const read = (name: string, file: string) => readSmallFile(`/sys/class/net/${name}/${file}`).then((text) => text.trim());
  const found = await Promise.all(
    names.map((name) =>
      Promise.all([read(name, 'ifalias'), read(name, 'mtu')]).then(
        ([alias, mtu]) => ({ name, alias, mtu: Number(mtu) }),
        () => undefined,
      ),
    ),
  );
  const present = found.filter((entry) => entry !== undefined);
  return {
    links: new Set(present.map(({ name }) => name)),
    aliases: new Map(present.filter(({ alias }) => alias !== '').map(({ name, alias }) => [name, alias])),
    mtus: new Map(present.map(({ name, mtu }) => [name, mtu])),
    groups: new Map(),
  };
}

/**
 * Routes of the main table that cover `address`, default excluded: what a new
 * lease could clash with. Found in the whole table, which the daemon
 * remembers, rather than asked of `ip route show match` per address.
 */
export async function routesCovering(runner: Reader, address: string): Promise<Route[]> {
  const value = ipv4ToInt(address);
  return (await mainRoutes(runner)).flatMap(({ dst, dev }) => {
    if (dst === 'default') return [];
    const [first, last] = rangeOf(dst);
    return value >= first && value <= last ? [{ dst, dev }] : [];
  });
}

/** The netns at `path` as net:[inode], the form /proc/<pid>/ns/net links to; undefined if it is gone. */
export async function netnsAt(path: string): Promise<string | undefined> {
  return stat(path).then(
    (s) => `net:[${s.ino}]`,
    () => undefined,
  );
}

/**
 * Whether the guest a record describes still lives. A guest is its netns,
 * not the process attach was given: that process may exit while others keep
 * the netns. The same netns at the record's path answers at once (a reused
 * pid has another). Otherwise our tagged host link answers: a veth pair is
 * destroyed with the netns of either end, so while the host end is there,
 * the guest's netns is alive. Nothing pins the netns, so a guest whose last
 * process exits is gone, and reaped. (Its inode number alone proves nothing:
 * the kernel hands it to the next netns at once.)
 */
export async function guestAlive(record: AttachmentRecord): Promise<boolean> {
  if ((await netnsAt(record.netnsPath)) === record.netns) return true;
  const hostEnd = hostEndOf(record);
  if (!record.tagged || hostEnd === undefined) return false;
  return (await existingLinksWithAliases([hostEnd])).aliases.get(hostEnd) === hostLinkAlias(record);
}
