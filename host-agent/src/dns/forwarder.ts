import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6, type Server } from 'node:net';
import { idOf, isQuery, isResponse, RateLimit, serverFailure, withId } from './message.js';
import { askNetd } from './netd.js';
import { serveTcp } from './tcp.js';
import type { Upstream } from './upstreams.js';

const DNS_PORT = 53;
const UPSTREAM_TIMEOUT_MS = 2000;
// A guest's resolver sends a handful of queries a second, a busy one dozens.
const QUERIES_PER_SECOND = 100;
const IN_FLIGHT_PER_GUEST = 32;
const IN_FLIGHT = 1024;

export interface ForwarderOptions {
  /** Where the host resolves now; asked for every query, so a change is followed at once. */
  upstreams: () => Promise<Upstream>;
  /** Whether `address` is an attached guest's: nobody else is ever answered. */
  isGuest: (address: string) => boolean;
  /** Hears queries dropped for a limit: a flood. */
  onDropped: (reason: string) => void;
}

interface Pending {
  query: Buffer;
  guest: { address: string; port: number };
  listener: UdpSocket;
  upstreams: string[];
  tried: number;
  timer?: NodeJS.Timeout;
  /** The socket the query went upstream from, its own: closed when the query is answered, or asked again. */
  socket?: UdpSocket;
}

/**
 * The daemon's DNS forwarder, on each guests' gateway address: guests
 * resolve through whatever the host uses now (a loopback stub included),
 * over UDP and TCP. It answers only attached guests, and bounds what each
 * of them can cost: a rate, a number of queries in flight, a message size.
 */
export class DnsForwarder {
  private readonly listeners = new Map<string, { udp: UdpSocket; tcp: Server }>();
  private readonly pending = new Map<number, Pending>();
  private readonly inFlight = new Map<string, number>();
  private readonly rate = new RateLimit(QUERIES_PER_SECOND);

  constructor(readonly options: ForwarderOptions) {}

  /**
   * Listens on each gateway not served yet. A gateway is bindable once a
   * guest link carries it; one that is not yet is tried again on the next call.
   */
  async serve(gateways: Iterable<string>): Promise<string[]> {
    const failures: string[] = [];
    for (const gateway of new Set(gateways)) {
      if (this.listeners.has(gateway)) continue;
      try {
        const udp = await bindUdp(gateway, (message, peer) => void this.onQuery(udp, message, peer));
        const tcp = await serveTcp(gateway, DNS_PORT, this).catch((error: Error) => {
          udp.close();
          throw error;
        });
        this.listeners.set(gateway, { udp, tcp });
      } catch (error) {
        failures.push(`${gateway}: ${(error as Error).message}`);
      }
    }
    return failures;
  }

  async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.finish(id);
    for (const { udp, tcp } of this.listeners.values()) {
      udp.close();
      tcp.close();
    }
    this.listeners.clear();
  }

  /** Whether `source` may have one more query answered now; counts it if so. */
  admit(source: string): boolean {
    if (!this.rate.take(source)) return this.drop(`${source} sends more than ${QUERIES_PER_SECOND} queries a second`);
    const mine = this.inFlight.get(source) ?? 0;
    const total = this.pending.size;
    if (mine >= IN_FLIGHT_PER_GUEST || total >= IN_FLIGHT) return this.drop(`${source} has too many queries in flight`);
    this.inFlight.set(source, mine + 1);
    return true;
  }

  release(source: string): void {
    const left = (this.inFlight.get(source) ?? 1) - 1;
    if (left > 0) this.inFlight.set(source, left);
    else this.inFlight.delete(source);
  }

  private drop(reason: string): false {
    this.options.onDropped(reason);
    return false;
  }

  private async onQuery(listener: UdpSocket, message: Buffer, peer: RemoteInfo): Promise<void> {
    if (!this.options.isGuest(peer.address) || !isQuery(message) || !this.admit(peer.address)) return;
    const upstream = await this.options.upstreams();
    if ('netd' in upstream) {
      const answer = await askNetd(upstream.netd, message);
      this.release(peer.address);
      return void listener.send(answer && isResponse(answer) ? answer : serverFailure(message), peer.port, peer.address);
    }
    const upstreams = upstream.servers;
    if (upstreams.length === 0) {
      this.release(peer.address);
      return void listener.send(serverFailure(message), peer.port, peer.address);
    }
    const id = this.freeId();
    if (id === undefined) return void this.release(peer.address);
    const pending: Pending = { query: message, guest: { address: peer.address, port: peer.port }, listener, upstreams, tried: 0 };
    this.pending.set(id, pending);
    this.ask(id, pending);
  }

  /**
   * Sends the query to the next upstream, from a socket of its own; gives up
   * (the guest's resolver retries) when none is left. Each socket gets a
   * port the kernel picks at random, so an off-path forger has to guess the
   * port as well as the 16-bit id. At most IN_FLIGHT of them are open.
   */
  private ask(id: number, pending: Pending): void {
    if (this.pending.get(id) !== pending) return;
    clearTimeout(pending.timer);
    pending.socket?.close();
    pending.socket = undefined;
    const upstream = pending.upstreams[pending.tried++];
    if (upstream === undefined) {
      this.finish(id);
      return;
    }
    const socket = createSocket(isIPv6(upstream.split('%')[0] ?? '') ? 'udp6' : 'udp4');
    pending.socket = socket;
    socket.on('message', (message, from) => this.onAnswer(id, socket, message, from));
    socket.on('error', () => {});
    pending.timer = setTimeout(() => this.ask(id, pending), UPSTREAM_TIMEOUT_MS);
    socket.send(withId(pending.query, id), DNS_PORT, upstream, (error) => error && pending.socket === socket && this.ask(id, pending));
  }

  private onAnswer(id: number, socket: UdpSocket, message: Buffer, from: RemoteInfo): void {
    const pending = this.pending.get(id);
    if (!pending || pending.socket !== socket || !isResponse(message) || idOf(message) !== id) return;
    // Only the server asked may answer, so a guest cannot forge answers for another.
    const asked = pending.upstreams[pending.tried - 1]?.split('%')[0];
    if (from.port !== DNS_PORT || from.address.split('%')[0] !== asked) return;
    pending.listener.send(withId(message, idOf(pending.query)), pending.guest.port, pending.guest.address);
    this.finish(id);
  }

  private finish(id: number): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    pending.socket?.close();
    pending.socket = undefined;
    this.pending.delete(id);
    this.release(pending.guest.address);
  }

  private freeId(): number | undefined {
    for (let i = 0; i < 16; i++) {
      const id = randomInt(0, 0x10000);
      if (!this.pending.has(id)) return id;
    }
    return undefined;
  }
}

function bindUdp(address: string, onMessage: (message: Buffer, peer: RemoteInfo) => void): Promise<UdpSocket> {
  const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(DNS_PORT, address, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      socket.on('message', onMessage);
      resolve(socket);
    });
  });
}
