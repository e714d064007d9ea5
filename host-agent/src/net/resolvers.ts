import { readFile } from 'node:fs/promises';
import { nameservers } from '@guestnet/runtime';

export const HOST_RESOLV_CONF = '/etc/resolv.conf';
// systemd-resolved's own list of real upstream servers, behind its 127.0.0.53 stub.
export const RESOLVED_UPSTREAMS = '/run/systemd/resolve/resolv.conf';

const isLoopback = (address: string) => address.startsWith('127.');

/**
 * Resolvers a guest can actually reach: a loopback resolver on the host is
 * unreachable from the guest's netns, so it is never handed out; behind
 * systemd-resolved's stub, its upstreams are used instead.
 */
export async function guestReachableResolvers(
  read: (path: string) => Promise<string> = (path) => readFile(path, 'utf8'),
): Promise<string[]> {
  const fromFile = async (path: string) => nameservers(await read(path).catch(() => ''));
  const hostServers = await fromFile(HOST_RESOLV_CONF);
  const reachable = hostServers.filter((server) => !isLoopback(server));
  if (reachable.length > 0 || hostServers.length === 0) return reachable.slice(0, 4);
  return (await fromFile(RESOLVED_UPSTREAMS)).filter((server) => !isLoopback(server)).slice(0, 4);
}
