import type { DhcpGuest, DhcpLookup, LeaseTiming } from './guest.js';
import { LinkRate, touch } from './limits.js';
import { buildReply, configOptions, type DhcpReply, leaseOptions } from './reply.js';
import { CLIENT_PORT, type DhcpRequest, MessageType } from './wire.js';

// The server's decisions, without sockets or clocks: a request and the
// address it came from in, an outcome out. One lease per guest link, and it
// is the guest's own address or nothing: a request names its guest by its
// MAC (chaddr), and whatever it asks, the reply goes to that guest's address,
// which the host routes over that guest's link only. A forged chaddr can
// therefore only send a reply to the guest that really owns the MAC.

/** How long an offer is remembered for the REQUEST that takes it. */
export const OFFER_HOLD_MS = 60_000;
export const REQUESTS_PER_SECOND = 2;
export const REQUEST_BURST = 10;
const NO_ADDRESS = '0.0.0.0';

export interface LinkLease {
  state: 'offered' | 'bound';
  address: string;
  xid: number;
  /** When an offer is forgotten, or a bound lease runs out. */
  until: number;
}

export type DhcpEventKind = 'offer' | 'ack' | 'renew' | 'nak' | 'inform' | 'release' | 'decline' | 'drop';

/**
 * Why a request got no answer: not DHCP; from a MAC no guest link has; from
 * an address not the guest's; over the guest's rate; or a request refused.
 */
export type DropKind = 'malformed' | 'unknown' | 'source' | 'rate' | 'refused';

/** What happened to one request: for the daemon's log and counters. */
export interface DhcpEvent {
  kind: DhcpEventKind;
  /** For a drop: which kind. Only 'refused' ones, which pass the rate limit, are worth a log line each. */
  drop?: DropKind;
  mac: string;
  link?: string;
  address?: string;
  /** Why a request was dropped or refused. */
  reason?: string;
}

export interface Outcome {
  event: DhcpEvent;
  /** A reply and where it goes: always the guest's own address, over its own link. */
  reply?: { packet: Buffer; address: string; port: number; link: string };
}

export class DhcpServerCore {
  private readonly leases = new Map<string, LinkLease>();
  private readonly rate = new LinkRate(REQUESTS_PER_SECOND, REQUEST_BURST);

  constructor(
    private readonly lookup: DhcpLookup,
    private readonly timing: LeaseTiming,
  ) {}

  /** The outcome of `request`, which arrived from `source` (0.0.0.0 before the client has an address). */
  handle(request: DhcpRequest, source: string, now: number): Outcome {
    const guest = this.lookup(request.chaddr);
    const drop = (drop: DropKind, reason: string): Outcome => ({
      event: { kind: 'drop', drop, mac: request.chaddr, ...(guest ? { link: guest.link } : {}), reason },
    });
    if (!guest) return drop('unknown', 'no guest link has this MAC');
    // A client with an address sends from it; strict rp_filter on the guest's link makes that address its link's own.
    if (source !== NO_ADDRESS && source !== guest.address) return drop('source', `sent from ${source}, not from the guest's address`);
    if (!this.rate.take(guest.link, now)) return drop('rate', `more than ${REQUESTS_PER_SECOND} requests a second`);
    switch (request.type) {
      case MessageType.discover:
        return this.offer(request, guest, now);
      case MessageType.request:
        return this.request(request, guest, now);
      case MessageType.release:
        return this.forget(request, guest, 'release', request.ciaddr);
      case MessageType.decline:
        return this.forget(request, guest, 'decline', request.requestedAddress);
      case MessageType.inform:
        return this.inform(request, guest);
      default:
        return drop('refused', 'not a client message');
    }
  }

  /** Forgets offers that were not taken and leases that ran out, and idle rate buckets. */
  sweep(now: number): void {
    for (const [link, lease] of this.leases) if (lease.until <= now) this.leases.delete(link);
    this.rate.sweep(now);
  }

  /** A guest link that went: its lease goes with it, and a guest given the link's name later starts afresh. */
  forgetLink(link: string): void {
    this.leases.delete(link);
  }

  leaseOf(link: string): Readonly<LinkLease> | undefined {
    return this.leases.get(link);
  }

  /** How many links and rate buckets are held: bounded by the guests the lookup knows. */
  get size(): { leases: number; rateBuckets: number } {
    return { leases: this.leases.size, rateBuckets: this.rate.size };
  }

  private offer(request: DhcpRequest, guest: DhcpGuest, now: number): Outcome {
    const current = this.leases.get(guest.link);
    // A bound guest that starts over keeps its lease until it takes the offer: the address is the same either way.
    if (current?.state !== 'bound' || current.until <= now)
      touch(this.leases, guest.link, { state: 'offered', address: guest.address, xid: request.xid, until: now + OFFER_HOLD_MS });
    return this.reply('offer', MessageType.offer, request, guest, guest.address, [...leaseOptions(this.timing), ...configOptions(guest)]);
  }

  /**
   * REQUEST in each of the client's states (RFC 2131 4.3.2): SELECTING names
   * a server and an address; INIT-REBOOT names only an address; RENEWING and
   * REBINDING carry the address in ciaddr. The one address ever ACKed is the guest's.
   */
  private request(request: DhcpRequest, guest: DhcpGuest, now: number): Outcome {
    if (request.serverId !== undefined && request.serverId !== guest.gateway) {
      // It took another server's offer: ours is withdrawn, and nothing is said.
      if (this.leases.get(guest.link)?.state === 'offered') this.leases.delete(guest.link);
      return refused(request, guest, `the client chose server ${request.serverId}`);
    }
    const asked = request.ciaddr !== NO_ADDRESS ? request.ciaddr : request.requestedAddress;
    if (asked === undefined) return refused(request, guest, 'a REQUEST naming no address');
    if (asked !== guest.address) {
      this.leases.delete(guest.link);
      return this.reply('nak', MessageType.nak, request, guest, NO_ADDRESS, [], `asked for ${asked}`);
    }
    const current = this.leases.get(guest.link);
    const renewing = current?.state === 'bound' && current.until > now;
    touch(this.leases, guest.link, {
      state: 'bound',
      address: guest.address,
      xid: request.xid,
      until: now + this.timing.leaseSeconds * 1000,
    });
    return this.reply(renewing ? 'renew' : 'ack', MessageType.ack, request, guest, guest.address, [
      ...leaseOptions(this.timing),
      ...configOptions(guest),
    ]);
  }

  /** RELEASE (ciaddr) and DECLINE (option 50) of the guest's own address end its lease; no reply. */
  private forget(request: DhcpRequest, guest: DhcpGuest, kind: 'release' | 'decline', address: string | undefined): Outcome {
    if (address !== guest.address || (request.serverId !== undefined && request.serverId !== guest.gateway))
      return refused(request, guest, `a ${kind.toUpperCase()} of ${address ?? 'no address'}`);
    this.leases.delete(guest.link);
    return { event: { kind, mac: request.chaddr, link: guest.link, address } };
  }

  /** INFORM: a guest with its address set asks for the rest; an ACK without a lease (RFC 2131 3.4). */
  private inform(request: DhcpRequest, guest: DhcpGuest): Outcome {
    if (request.ciaddr !== guest.address) return refused(request, guest, `an INFORM from ${request.ciaddr}`);
    return this.reply('inform', MessageType.ack, request, guest, NO_ADDRESS, configOptions(guest));
  }

  private reply(
    kind: DhcpEventKind,
    type: DhcpReply['type'],
    request: DhcpRequest,
    guest: DhcpGuest,
    yiaddr: string,
    options: DhcpReply['options'],
    reason?: string,
  ): Outcome {
    const packet = buildReply({
      type,
      xid: request.xid,
      flags: request.flags,
      chaddr: guest.mac,
      ciaddr: type === MessageType.ack ? request.ciaddr : NO_ADDRESS,
      yiaddr,
      serverId: guest.gateway,
      options,
    });
    return {
      event: { kind, mac: guest.mac, link: guest.link, address: guest.address, ...(reason === undefined ? {} : { reason }) },
      reply: { packet, address: guest.address, port: CLIENT_PORT, link: guest.link },
    };
  }
}

/** A known guest's request that gets no answer: within its rate, so worth a log line. */
function refused(request: DhcpRequest, guest: DhcpGuest, reason: string): Outcome {
  return { event: { kind: 'drop', drop: 'refused', mac: request.chaddr, link: guest.link, reason } };
}
