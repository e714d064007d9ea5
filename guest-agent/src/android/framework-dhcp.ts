import type { Lease } from '../dhcp.js';
import { readIp } from '../ip.js';

// How often the kernel is looked at while the framework takes its lease.
const LOOK_EVERY_MS = 200;

type IpAddr = { addr_info: Array<{ local?: string; prefixlen: number; scope?: string }> };
type IpRoute = { gateway?: string };

/** The lease the kernel shows on `link`: a global IPv4 address and a default route through it, in any table (netd keeps one per network). */
export function leaseInKernel(output: string): Lease | undefined {
  const [addrs, routes] = output
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line)) as [IpAddr[], IpRoute[]];
  const address = addrs[0]?.addr_info.find((info) => info.local !== undefined && info.scope === 'global');
  const gateway = routes.find((route) => route.gateway)?.gateway;
  if (!address?.local || !gateway) return undefined;
  return { address: address.local, prefixLength: address.prefixlen, gateway, dns: [] };
}

/**
 * On Android the framework is the DHCP client: EthernetService's IpClient
 * takes, renews and releases the lease of an interface that ipconfig.txt
 * gives DHCP, and hands its resolvers to netd, out of our sight. The agent
 * writes that entry and only watches the kernel for the lease, to report it.
 */
export class FrameworkDhcp {
  async leaseFor(link: string, timeoutMs: number): Promise<Lease> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lease = leaseInKernel(await readIp([`address show dev ${link}`, `route show table all default dev ${link}`]));
      if (lease) return lease;
      if (Date.now() > deadline) throw new Error(`Android's framework took no DHCP lease on ${link} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, LOOK_EVERY_MS));
    }
  }

  /** The framework keeps the lease; there is nothing of ours to stop. */
  stop(): void {}
}
