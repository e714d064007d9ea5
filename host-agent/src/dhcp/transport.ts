import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { DhcpServerCore, type DhcpEvent, type DropKind } from './core.js';
import { DEFAULT_LEASE_SECONDS, type DhcpLookup, type LeaseTiming } from './guest.js';
import { DhcpRefusal } from './options.js';
import { CLIENT_PORT, parseRequest, SERVER_PORT } from './wire.js';

// The DHCP server on the host: one UDP socket on port 67 of every address,
// because a client without an address broadcasts, and only a wildcard socket
// hears broadcasts. Node can neither bind a socket to a device nor read the
// link a datagram came in on, so a request is tied to a guest link by its
// MAC, and the reply is addressed to that guest's address: the kernel routes
// it over the guest's /32 route to the MAC of a permanent neighbour entry
// (link-setup.ts), onto that link only. The socket never has SO_BROADCAST:
// the kernel refuses any broadcast it might be asked to send.

const SWEEP_MS = 10_000;

export interface DhcpServerOptions {
  lookup: DhcpLookup;
  timing?: LeaseTiming;
  /** Hears answers, releases, declines, and refusals of known guests; drops are only counted (`stats`). */
  onEvent?: (event: DhcpEvent) => void;
  /** For tests: the address and port to listen on; 0.0.0.0:67 otherwise. */
  address?: string;
  port?: number;
}

export interface DhcpStats {
  answered: number;
  dropped: Record<DropKind | 'unsent', number>;
  leases: number;
  rateBuckets: number;
}

/** UDP port 67 could not be had: another DHCP server holds it on every interface, or no root. */
export class DhcpListenError extends Error {
  constructor(
    message: string,
    readonly errno: string | undefined,
  ) {
    super(message);
    this.name = 'DhcpListenError';
  }
}

export class DhcpServer {
  readonly core: DhcpServerCore;
  private socket: Socket | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private answered = 0;
  private readonly dropped: DhcpStats['dropped'] = { malformed: 0, unknown: 0, source: 0, rate: 0, refused: 0, unsent: 0 };

  constructor(private readonly options: DhcpServerOptions) {
    this.core = new DhcpServerCore(options.lookup, options.timing ?? { leaseSeconds: DEFAULT_LEASE_SECONDS });
  }

  async start(): Promise<void> {
    // SO_REUSEADDR: a host's own dnsmasq bound to its bridge (--bind-interfaces, as lxc-net and Waydroid run it)
    // holds port 67 on that device with it, and both serve side by side.
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const port = this.options.port ?? SERVER_PORT;
    const address = this.options.address ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error: NodeJS.ErrnoException) => {
        socket.close();
        const why =
          error.code === 'EADDRINUSE'
            ? 'another DHCP server holds it on every interface (a dnsmasq without --bind-interfaces?)'
            : error.code === 'EACCES'
              ? 'it needs root'
              : error.message;
        reject(new DhcpListenError(`cannot serve DHCP on UDP port ${port}: ${why}`, error.code));
      });
      socket.bind({ port, address, exclusive: true }, () => resolve());
    });
    socket.removeAllListeners('error');
    socket.on('error', () => {});
    socket.on('message', (message, peer) => this.onMessage(socket, message, peer));
    this.socket = socket;
    this.sweeper = setInterval(() => this.core.sweep(Date.now()), SWEEP_MS);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  stats(): DhcpStats {
    return { answered: this.answered, dropped: { ...this.dropped }, ...this.core.size };
  }

  private onMessage(socket: Socket, message: Buffer, peer: RemoteInfo): void {
    // A client sends from port 68; a relay (port 67) or anything else is not a guest's client.
    if (peer.port !== CLIENT_PORT) return void this.dropped.malformed++;
    let request: ReturnType<typeof parseRequest>;
    try {
      request = parseRequest(message);
    } catch (error) {
      this.dropped.malformed++;
      // A refusal is the guest's bytes; anything else is our bug, and still must not take the daemon down.
      if (!(error instanceof DhcpRefusal)) this.options.onEvent?.({ kind: 'drop', drop: 'malformed', mac: '', reason: String(error) });
      return;
    }
    const { event, reply } = this.core.handle(request, peer.address, Date.now());
    if (event.drop !== undefined) this.dropped[event.drop]++;
    if (event.drop === undefined || event.drop === 'refused') this.options.onEvent?.(event);
    if (!reply) return;
    this.answered++;
    socket.send(reply.packet, reply.port, reply.address, (error) => {
      if (!error) return;
      this.dropped.unsent++;
      this.options.onEvent?.({ ...event, kind: 'drop', drop: 'refused', reason: `reply not sent: ${error.message}` });
    });
  }
}
