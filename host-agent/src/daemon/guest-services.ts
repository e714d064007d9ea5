import { hostDnsForwarder } from '../dns/host-forwarder.js';
import type { DnsForwarder } from '../dns/forwarder.js';
import { GuestDhcp } from '../guest-config/dhcp-service.js';
import { GuestRa } from '../guest-config/ra-service.js';
import { dnsAddressesOf } from '../model/guest-config.js';
import type { Level } from '../log.js';
import type { RecordStore } from '../state/store.js';
import { logDhcpEvent } from './events.js';
import { limitedWarning } from './rate-limit.js';

/**
 * What the daemon serves guests on their links besides their sessions: the
 * DNS forwarder on each gateway, the DHCP server while there are dhcp guests,
 * and radvd for those with IPv6. Each follows the record store; `serve`
 * catches up after the store changed, and a failure is logged, never thrown:
 * a guest's network does not hang on them.
 */
export class GuestServices {
  readonly dhcp: GuestDhcp;
  private readonly dns: DnsForwarder;
  private readonly ra: GuestRa;

  constructor(
    private readonly records: RecordStore,
    stateDir: string,
    private readonly log: (level: Level, message: string, meta?: Record<string, unknown>) => void,
    /** Where netd takes DNS queries, on an Android host. */
    netdSocket: string,
  ) {
    this.dns = hostDnsForwarder(netdSocket, {
      isGuest: (address) => records.isGuestAddress(address),
      onDropped: limitedWarning(log, 'guest DNS queries dropped'),
    });
    // Its guests are the store's dhcp guests, from their record's first write: a DISCOVER never comes first.
    this.dhcp = new GuestDhcp(records, logDhcpEvent(log));
    this.ra = new GuestRa(records, stateDir, limitedWarning(log, 'router advertisements failed'));
  }

  /** The DNS forwarder on every gateway that a guest link carries by now, and the DHCP server while there are dhcp guests. */
  async serve(): Promise<void> {
    const failures = await this.dns.serve(this.records.all().flatMap(dnsAddressesOf));
    const lasting = failures.filter((f) => !/EADDRNOTAVAIL/.test(f));
    if (lasting.length > 0) this.log('warn', 'cannot serve DNS to guests', { failures: lasting });
    await this.dhcp.serve().catch((error: Error) => this.log('warn', 'cannot serve DHCP to guests', { error: error.message }));
  }

  /** Each of them let go, in the order serving took them: what the daemon's holdings run at stop. */
  get releases(): Array<() => unknown> {
    return [() => this.dns.close(), () => this.dhcp.close(), () => this.ra.stop()];
  }
}
