import { isIPv4 } from 'node:net';
import { GuestTimeoutError, NameTakenError } from '@guestnet/protocol';
import type { DhcpEvent } from '../dhcp/core.js';
import type { DhcpGuest } from '../dhcp/guest.js';
import { DhcpListenError, DhcpServer } from '../dhcp/transport.js';
import { isDhcpGuest } from '../model/guest-config.js';
import type { AttachmentRecord, RoutedVethRecord } from '../model/record.js';
import type { RecordChange } from '../state/store.js';

// The daemon's DHCP server for `--guest-config dhcp` guests: one server for
// all of them, started with the first such guest and closed with the last.
// Its lookup follows the daemon's record store: a request's MAC names the
// guest whose link the host gave that MAC, and the lease is the address
// attach already allocated, so a daemon restart loses nothing a guest holds. What each guest
// did (first asked, bound, renewed, released) is kept here for `status` and
// `doctor`, and an attach with --wait-lease waits here for the guest's DHCPACK.

/** What `status` shows of a dhcp guest's lease. */
export interface DhcpLeaseView {
  /** none: its client never asked since this daemon started; released: it gave the lease back. */
  state: 'none' | 'offered' | 'bound' | 'released';
  address: string;
  /** ISO times; absent when not (yet) known. */
  expiresAt?: string;
  lastRenewal?: string;
  firstAsked?: string;
}

/** What an attach with --wait-lease reports: the guest's DHCP client took its lease. */
export interface LeaseConfirmation {
  dhcp: { address: string; at: string };
}

type History = { firstAsked?: number; bound?: number; renewed?: number; released?: number };
type Waiter = (confirmation: LeaseConfirmation) => void;

/** What GuestDhcp follows: the daemon's record store. */
export interface RecordSource {
  all(): readonly AttachmentRecord[];
  onChange(listener: (change: RecordChange) => void): () => void;
}

/** The DHCP server's view of a dhcp guest's record. */
export function dhcpGuestOf(record: RoutedVethRecord): DhcpGuest {
  return {
    link: record.hostIf,
    mac: record.guestMac.toLowerCase(),
    address: record.guestAddress,
    prefixLength: record.prefixLength,
    gateway: record.hostAddress,
    mtu: record.mtu,
    // DHCPv4 carries IPv4 resolvers only: without --dns, the daemon's forwarder on the gateway.
    dns: record.dns.filter((server) => isIPv4(server)),
  };
}

export class GuestDhcp {
  private server: DhcpServer | undefined;
  private starting: Promise<void> | undefined;
  private byMac = new Map<string, DhcpGuest>();
  private readonly history = new Map<string, History>();
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(
    records: RecordSource,
    private readonly onEvent: (event: DhcpEvent) => void,
  ) {
    for (const record of records.all()) this.changed({ id: record.id, before: undefined, after: record });
    records.onChange((change) => this.changed(change));
  }

  /**
   * A record came, changed or went: the server answers exactly the store's
   * dhcp guests, each known from its record's first write (before its link
   * exists, so its first DISCOVER is answered). What a guest did goes with it.
   */
  private changed({ before, after }: RecordChange): void {
    if (isDhcpGuest(before)) {
      const mac = before.guestMac.toLowerCase();
      if (this.byMac.get(mac)?.link === before.hostIf) this.byMac.delete(mac);
      // Another guest, or none, on its link now: what this one did, and its lease, go.
      if (!isDhcpGuest(after) || after.hostIf !== before.hostIf || after.guestMac !== before.guestMac) {
        this.history.delete(before.hostIf);
        this.server?.core.forgetLink(before.hostIf);
      }
    }
    if (isDhcpGuest(after)) this.byMac.set(after.guestMac.toLowerCase(), dhcpGuestOf(after));
    // The last dhcp guest gone (detached, reaped, rolled back): nothing is to hold port 67 any more.
    if (this.byMac.size === 0 && this.server) void this.close();
  }

  /** The dhcp guest whose link carries `mac` (lower case), as the server looks it up. */
  guestOf(mac: string): DhcpGuest | undefined {
    return this.byMac.get(mac);
  }

  /** Serves while there are dhcp guests: starts the server with the first, closes it after the last. */
  async serve(): Promise<void> {
    if (this.byMac.size === 0) return this.close();
    if (this.server) return;
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  async close(): Promise<void> {
    await this.starting?.catch(() => {});
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /** Resolves once the guest of `record` has taken its lease (a DHCPACK), now or later; rejects at `timeoutMs`. */
  waitForLease(record: RoutedVethRecord, timeoutMs: number, cancelled: AbortSignal, onCancel: () => Error): Promise<LeaseConfirmation> {
    const link = record.hostIf;
    // Its client may have been asking all along, and taken the lease before this wait began.
    const bound = this.history.get(link)?.bound;
    if (bound !== undefined) return Promise.resolve({ dhcp: { address: record.guestAddress, at: new Date(bound).toISOString() } });
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        cancelled.removeEventListener('abort', aborted);
        this.waiters.set(
          link,
          (this.waiters.get(link) ?? []).filter((w) => w !== waiter),
        );
        if (this.waiters.get(link)?.length === 0) this.waiters.delete(link);
        outcome();
      };
      const waiter: Waiter = (confirmation) => settle(() => resolve(confirmation));
      const aborted = () => settle(() => reject(onCancel()));
      const timer = setTimeout(
        () =>
          settle(() =>
            reject(
              new GuestTimeoutError(
                `the guest's DHCP client took no lease within ${timeoutMs} ms; the host side was rolled back (without --wait-lease, nothing waits)`,
              ),
            ),
          ),
        timeoutMs,
      );
      if (cancelled.aborted) return aborted();
      cancelled.addEventListener('abort', aborted, { once: true });
      this.waiters.set(link, [...(this.waiters.get(link) ?? []), waiter]);
    });
  }

  /** The lease of `record`'s guest as this daemon knows it; undefined for guests that are not dhcp guests. */
  leaseOf(record: AttachmentRecord): DhcpLeaseView | undefined {
    if (!isDhcpGuest(record)) return undefined;
    const held = this.server?.core.leaseOf(record.hostIf);
    const seen = this.history.get(record.hostIf) ?? {};
    const at = (ms: number | undefined) => (ms === undefined ? {} : { at: new Date(ms).toISOString() });
    return {
      state: held?.state ?? (seen.released !== undefined ? 'released' : 'none'),
      address: record.guestAddress,
      ...(held?.state === 'bound' ? { expiresAt: new Date(held.until).toISOString() } : {}),
      ...(seen.renewed === undefined ? {} : { lastRenewal: at(seen.renewed).at }),
      ...(seen.firstAsked === undefined ? {} : { firstAsked: at(seen.firstAsked).at }),
    };
  }

  private async start(): Promise<void> {
    const server = new DhcpServer({ lookup: (mac) => this.guestOf(mac), onEvent: (event) => this.heard(event) });
    try {
      await server.start();
    } catch (error) {
      // Port 67 taken on every address (a host's dnsmasq without --bind-interfaces): an address in use, in one line.
      if (error instanceof DhcpListenError) throw new NameTakenError(error.message);
      throw error;
    }
    this.server = server;
  }

  private heard(event: DhcpEvent): void {
    const link = event.link;
    if (link !== undefined && event.kind !== 'drop') {
      const now = Date.now();
      const seen = this.history.get(link) ?? {};
      seen.firstAsked ??= now;
      if (event.kind === 'ack') seen.bound = now;
      if (event.kind === 'renew') seen.renewed = now;
      if (event.kind === 'release' || event.kind === 'decline') seen.released = now;
      else if (event.kind === 'ack' || event.kind === 'renew') delete seen.released;
      if ([...this.byMac.values()].some((g) => g.link === link)) this.history.set(link, seen);
      if (event.kind === 'ack' || event.kind === 'renew') {
        const confirmation = { dhcp: { address: event.address ?? '', at: new Date(now).toISOString() } };
        for (const waiter of this.waiters.get(link) ?? []) waiter(confirmation);
      }
    }
    this.onEvent(event);
  }
}
