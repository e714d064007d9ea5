import { readFile } from 'node:fs/promises';
import { readIp } from './ip.js';

export interface GuestLink {
  name: string;
  alias: string | undefined;
  mtu: number;
  up: boolean;
  /** IPv4 addresses as address/prefix. */
  addresses: string[];
}

export interface GuestObserved {
  links: GuestLink[];
  defaultRoute: { gateway: string; dev: string } | undefined;
  /** undefined: the file does not exist. */
  resolvConf: string | undefined;
}

type IpLink = { ifname: string; ifalias?: string; mtu: number; flags: string[] };
type IpAddr = { ifname: string; addr_info: Array<{ local: string; prefixlen: number }> };
type IpRoute = { gateway?: string; dev: string };

/** One `ip` process for links, addresses and the default route together. */
export async function observeGuest(resolvConfPath: string): Promise<GuestObserved> {
  const [output, resolvConf] = await Promise.all([
    readIp(['link show', 'address show', 'route show default']),
    readFile(resolvConfPath, 'utf8').catch(() => undefined),
  ]);
  const [links, addrs, routes] = output.split('\n').filter(Boolean).map((line) => JSON.parse(line)) as [IpLink[], IpAddr[], IpRoute[]];
  const addressesOf = (name: string) =>
    (addrs.find((a) => a.ifname === name)?.addr_info ?? []).map((info) => `${info.local}/${info.prefixlen}`);
  const route = routes.find((r) => r.gateway);
  return {
    links: links.map((link) => ({
      name: link.ifname,
      alias: link.ifalias,
      mtu: link.mtu,
      up: link.flags.includes('UP'),
      addresses: addressesOf(link.ifname),
    })),
    defaultRoute: route?.gateway ? { gateway: route.gateway, dev: route.dev } : undefined,
    resolvConf,
  };
}
