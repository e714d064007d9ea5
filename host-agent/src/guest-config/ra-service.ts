import { bigIntToIpv6, ipv6ToBigInt } from '@guestnet/protocol';
import { isDhcpGuest } from '../model/guest-config.js';
import { statePaths } from '../model/paths.js';
import type { AttachmentRecord } from '../model/record.js';
import { Radvd } from '../ra/radvd.js';
import type { RaLink } from '../ra/config.js';
import type { RecordChange } from '../state/store.js';
import type { RecordSource } from './dhcp-service.js';

// Router advertisements for dhcp guests with IPv6 (issue 29): the guest's own
// kernel forms its address by SLAAC in the pool's /64, and takes the host end
// as its default router and its IPv6 gateway as its resolver (RDNSS). The daemon's radvd (ra/radvd.ts) advertises on
// exactly the host ends of the record store's dhcp guests with IPv6: a link
// not in its config, the uplink above all, is never spoken on. It starts with
// the first such guest, is reloaded as they come and go, withdraws its routes
// with the last, and is left to the next daemon (saying nothing) when the
// daemon stops. Its config and pid file live in the state dir.

/**
 * What radvd says on a dhcp guest's link: the /64 its address is in, the
 * link's MTU, and as RDNSS the host end's IPv6 gateway, where the daemon's
 * DNS forwarder answers it (dnsAddressesOf).
 */
export function raLinkOf(record: AttachmentRecord): RaLink | undefined {
  if (!isDhcpGuest(record) || !record.ipv6) return undefined;
  const { guestAddress, hostAddress } = record.ipv6;
  return { link: record.hostIf, prefix: `${prefix64(guestAddress)}/64`, rdnss: [hostAddress], mtu: record.mtu };
}

/** The /64's network of `address`. */
const prefix64 = (address: string): string => bigIntToIpv6((ipv6ToBigInt(address) >> 64n) << 64n);

const sameLink = (a: RaLink | undefined, b: RaLink | undefined) =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.link === b.link &&
    a.prefix === b.prefix &&
    a.mtu === b.mtu &&
    a.rdnss.join() === b.rdnss.join());

export class GuestRa {
  private readonly radvd: Radvd;
  private readonly links = new Map<string, RaLink>();
  /** Applies run one after another, each with the links as they were when it was asked for. */
  private applying: Promise<void> = Promise.resolve();

  constructor(
    records: RecordSource,
    stateDir: string,
    private readonly onFailure: (message: string) => void,
  ) {
    const paths = statePaths(stateDir);
    this.radvd = new Radvd({
      configPath: paths.radvdConfig,
      pidPath: paths.radvdPid,
      onExit: (detail) => onFailure(`radvd exited: ${detail}`),
    });
    for (const record of records.all()) this.changed({ id: record.id, before: undefined, after: record });
    records.onChange((change) => this.changed(change));
  }

  /** radvd is left running, silent, for the next daemon: its guests keep their routes meanwhile. */
  async stop(): Promise<void> {
    await this.applying;
    await this.radvd.stop('keep');
  }

  private changed({ id, after }: RecordChange): void {
    const link = after ? raLinkOf(after) : undefined;
    const was = this.links.get(id);
    if (sameLink(was, link)) return;
    if (link) this.links.set(id, link);
    else this.links.delete(id);
    const links = [...this.links.values()];
    this.applying = this.applying
      .then(() => this.radvd.apply(links))
      .catch((error: Error) => this.onFailure(`cannot advertise IPv6 to dhcp guests: ${error.message}`));
  }
}
