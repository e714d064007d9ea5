import { promises as fs } from 'node:fs';
import { isIP } from 'node:net';
import { HOST_RESOLV_CONF } from '../net/resolvers.js';
import { NETD_DNS_SOCKET } from './netd.js';

// How often the resolver file may be looked at again: guests follow a change
// well within seconds, and a query flood costs at most this many stat calls.
const RECHECK_MS = 500;
const MAX_UPSTREAMS = 4;

/** Every `nameserver` of a resolv.conf, either family; a loopback stub is fine, the daemon runs on the host. */
export function upstreamsIn(resolvConf: string): string[] {
  return resolvConf
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
    .filter((server): server is string => server !== undefined && isIP(server.split('%')[0] ?? '') !== 0)
    .slice(0, MAX_UPSTREAMS);
}

/** Where queries go: the servers of resolv.conf, or, on an Android host, which has none, netd. */
export type Upstream = { servers: string[] } | { netd: string };

/**
 * The resolvers the host uses now, from its resolv.conf: re-read when the
 * file changes (NetworkManager, dhcpcd and resolvconf replace or rewrite it
 * as the host moves between networks). A host that names none but has
 * netd's dnsproxyd socket resolves through netd.
 */
export class HostResolvers {
  private servers: string[] = [];
  private netd = false;
  private seen = '';
  private checkedAt = 0;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly path = HOST_RESOLV_CONF,
    private readonly netdSocket = NETD_DNS_SOCKET,
  ) {}

  async current(): Promise<Upstream> {
    if (Date.now() - this.checkedAt >= RECHECK_MS) {
      this.checking ??= this.recheck().finally(() => (this.checking = undefined));
      await this.checking;
    }
    return this.servers.length === 0 && this.netd ? { netd: this.netdSocket } : { servers: this.servers };
  }

  private async recheck(): Promise<void> {
    this.checkedAt = Date.now();
    this.netd = (await fs.stat(this.netdSocket).catch(() => undefined))?.isSocket() === true;
    const stat = await fs.stat(this.path).catch(() => undefined);
    const version = stat ? `${stat.ino}:${stat.mtimeMs}:${stat.size}` : 'none';
    if (version === this.seen) return;
    this.seen = version;
    this.servers = stat ? upstreamsIn(await fs.readFile(this.path, 'utf8').catch(() => '')) : [];
  }
}
