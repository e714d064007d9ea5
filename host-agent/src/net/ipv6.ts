import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { bigIntToIpv6, checkIfName } from '@guestnet/protocol';
import { readSmallFile } from '@guestnet/runtime';
import type { HostIpv6, OnLinkPrefix, Route } from '../model/host.js';
import { hostQueries } from '../model/host-queries.js';
import type { Ipv6ForwardingBefore } from '../model/ipv6.js';
import { IPV6_CONF_DIR, IPV6_FORWARDING_PATH, proxyNdpBeforePath, statePaths } from '../model/paths.js';
import type { Reader } from '../model/step.js';

const readTrimmed = (path: string) => readSmallFile(path).then((text) => text.trim());
const orUndefined = <T>(promise: Promise<T>) => promise.catch(() => undefined);

/**
 * IPv6 forwarding, accept_ra and proxy_ndp where they matter, the IPv6
 * default routes, the global addresses, and (deep) the neighbour proxies.
 */
export async function observeIpv6(runner: Reader, stateDir: string, deep: boolean): Promise<HostIpv6> {
  const [forwarding, disabled, disabledForNew, before, proxyNdpBefore, defaults, addresses, ndProxies] = await Promise.all([
    orUndefined(readTrimmed(IPV6_FORWARDING_PATH)),
    orUndefined(readTrimmed(`${IPV6_CONF_DIR}/all/disable_ipv6`)),
    // New links, the guests' among them, take "default"'s.
    orUndefined(readTrimmed(`${IPV6_CONF_DIR}/default/disable_ipv6`)),
    readForwardingBefore(stateDir),
    readProxyNdpBefore(stateDir),
    ipv6Defaults(runner),
    globalAddresses(),
    // Adding a proxy entry is idempotent: only a deep look needs to know which exist.
    deep ? runner.read(['ip', '-6', '-j', 'neigh', 'show', 'proxy']).catch(() => '[]') : '[]',
  ]);
  // Every interface's accept_ra only when forwarding may be about to go on (it needs an IPv6 default route); proxy_ndp only where a routed guest may need it.
  const [acceptRa, proxyNdp] = await Promise.all([
    forwarding === '1' || defaults.length === 0 ? new Map<string, string>() : readConf('accept_ra'),
    readConf('proxy_ndp', [...new Set([...defaults.map((d) => d.dev), ...proxyNdpBefore.keys()])]),
  ]);
  const proxies = (JSON.parse(ndProxies) as Array<{ dst: string; dev?: string }>).map((n) => `${n.dst} ${n.dev ?? ''}`);
  return {
    forwarding: disabled === '0' && disabledForNew === '0' ? forwarding : undefined,
    before,
    acceptRa,
    defaults,
    global: new Set(addresses.map((a) => a.dev)),
    onLink: addresses,
    proxyNdp,
    proxyNdpBefore,
    ndProxies: new Set(proxies),
  };
}

const PROXY_NDP_BEFORE = /^proxy_ndp\.(.+)\.before$/;

/** The proxy_ndp values found before guestnet turned it on, one state file per interface. */
async function readProxyNdpBefore(stateDir: string): Promise<Map<string, string>> {
  const names = (await orUndefined(readdir(stateDir))) ?? [];
  const found = await Promise.all(
    names.map(async (name) => {
      const dev = PROXY_NDP_BEFORE.exec(name)?.[1];
      if (dev === undefined || !checkIfName(dev).ok) return [];
      const value = await orUndefined(readTrimmed(proxyNdpBeforePath(stateDir, dev)));
      return value !== undefined && /^[01]$/.test(value) ? [[dev, value] as [string, string]] : [];
    }),
  );
  return new Map(found.flat());
}

export async function readForwardingBefore(stateDir: string): Promise<Ipv6ForwardingBefore | undefined> {
  const text = await orUndefined(readSmallFile(statePaths(stateDir).ipv6ForwardingBefore));
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Ipv6ForwardingBefore;
    if (!/^[012]$/.test(String(parsed.forwarding)) || typeof parsed.acceptRa !== 'object' || parsed.acceptRa === null) return undefined;
    // Names become paths under /proc/sys: only interface names and values the kernel could have shown.
    const acceptRa = Object.entries(parsed.acceptRa).filter(([name, value]) => checkIfName(name).ok && /^[0-2]$/.test(String(value)));
    return { forwarding: parsed.forwarding, acceptRa: Object.fromEntries(acceptRa) };
  } catch {
    return undefined;
  }
}

/** One IPv6 setting of `names`, or of every interface (and "all" and "default"). */
async function readConf(key: string, only?: string[]): Promise<Map<string, string>> {
  const names = only ?? (await orUndefined(readdir(IPV6_CONF_DIR))) ?? [];
  const values = await Promise.all(
    names.map(async (name) => [name, await orUndefined(readTrimmed(`${IPV6_CONF_DIR}/${name}/${key}`))] as const),
  );
  return new Map(values.flatMap(([name, value]) => (value === undefined ? [] : [[name, value] as [string, string]])));
}

async function ipv6Defaults(runner: Reader): Promise<Route[]> {
  const text = await runner.query(hostQueries.defaultRoutes6).catch(() => '[]');
  const routes = JSON.parse(text) as Array<{ dev?: string; type?: string; metric?: number }>;
  return routes.flatMap((r) =>
    r.dev === undefined || (r.type ?? 'unicast') !== 'unicast'
      ? []
      : [{ dst: 'default', dev: r.dev, ...(r.metric === undefined ? {} : { metric: r.metric }) }],
  );
}

/** From /proc/net/if_inet6: "address ifindex prefix scope flags name", scope 00 being global; tentative (0x40) and deprecated (0x20) ones do not count. */
async function globalAddresses(): Promise<OnLinkPrefix[]> {
  const text = (await orUndefined(readSmallFile('/proc/net/if_inet6'))) ?? '';
  return text.split('\n').flatMap((line) => {
    const [hex, , prefix, scope, flags, dev] = line.trim().split(/\s+/);
    if (scope !== '00' || !dev || !hex || hex.length !== 32 || (Number.parseInt(flags ?? '0', 16) & 0x60) !== 0) return [];
    return [{ dev, address: bigIntToIpv6(BigInt(`0x${hex}`)), prefixLength: Number.parseInt(prefix ?? '80', 16) }];
  });
}

/**
 * A unique local /64 (RFC 4193) stable for this host: its 40-bit global ID is
 * derived from the machine id, so two hosts on one network differ and a
 * reboot keeps the guests' addresses.
 */
export function defaultPool6(machineId: string): string {
  const id = createHash('sha256').update(`guestnet:${machineId.trim()}`).digest();
  const groups = [0xfd00 | (id[0] ?? 0), ((id[1] ?? 0) << 8) | (id[2] ?? 0), ((id[3] ?? 0) << 8) | (id[4] ?? 0), 0x6e74];
  return `${groups.map((g) => g.toString(16)).join(':')}::/64`;
}

let pool6OfHost: Promise<string> | undefined;

/**
 * The default IPv6 pool of this host: from the machine id, or the host name where there is none (Android). Read
 * once per process: a machine id is set at first boot, and a host name changed under a running daemon must not
 * move the pool of the guests it serves.
 */
export function hostPool6(): Promise<string> {
  pool6OfHost ??= readFile('/etc/machine-id', 'utf8')
    .catch(() => hostname())
    .then(defaultPool6);
  return pool6OfHost;
}
