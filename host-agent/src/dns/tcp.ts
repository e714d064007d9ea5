import { connect, createServer, isIPv6, type Server, type Socket } from 'node:net';
import { isQuery, isResponse, MAX_QUERY_BYTES } from './message.js';
import { askNetd } from './netd.js';
import type { Upstream } from './upstreams.js';

const UPSTREAM_TIMEOUT_MS = 5000;
const IDLE_MS = 10_000;
const CONNECTIONS_PER_GUEST = 4;
const CONNECTIONS = 128;
const MAX_ANSWER_BYTES = 65_535;
const QUEUED_PER_CONNECTION = 4;

/** What the TCP side needs of the forwarder: who may ask, and the same limits as UDP. */
export interface TcpForwarding {
  options: { upstreams: () => Promise<Upstream>; isGuest: (address: string) => boolean };
  admit(source: string): boolean;
  release(source: string): void;
}

/**
 * Reads 2-byte-length framed messages (RFC 1035 4.2.2), at most `max` bytes
 * each, and hands each complete one on. Returns false once the stream is
 * not DNS: a frame that is too long.
 */
function framed(max: number, onMessage: (message: Buffer) => void): (chunk: Buffer) => boolean {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (buffered.length < 2) return true;
      const length = buffered.readUInt16BE(0);
      if (length > max) return false;
      if (buffered.length < 2 + length) return buffered.length <= 2 + max;
      onMessage(buffered.subarray(2, 2 + length));
      buffered = buffered.subarray(2 + length);
    }
  };
}

const frame = (message: Buffer) => Buffer.concat([Buffer.from([message.length >> 8, message.length & 0xff]), message]);

/** One query over TCP to the first server that answers, or to netd. */
async function askUpstream(query: Buffer, upstream: Upstream): Promise<Buffer | undefined> {
  if ('netd' in upstream) return askNetd(upstream.netd, query);
  for (const server of upstream.servers) {
    const answer = await new Promise<Buffer | undefined>((resolve) => {
      const socket = connect({ host: server, port: 53, family: isIPv6(server.split('%')[0] ?? '') ? 6 : 4 });
      socket.setTimeout(UPSTREAM_TIMEOUT_MS, () => socket.destroy());
      const feed = framed(MAX_ANSWER_BYTES, (message) => {
        resolve(Buffer.from(message));
        socket.destroy();
      });
      socket.on('connect', () => socket.write(frame(query)));
      socket.on('data', (chunk) => feed(chunk) || socket.destroy());
      socket.on('error', () => {});
      socket.on('close', () => resolve(undefined));
    });
    if (answer && isResponse(answer) && answer.readUInt16BE(0) === query.readUInt16BE(0)) return answer;
  }
  return undefined;
}

/** The forwarder's TCP side on `address`; a query at a time per connection, as stub resolvers send them. */
export function serveTcp(address: string, port: number, forwarder: TcpForwarding): Promise<Server> {
  const perGuest = new Map<string, number>();
  let open = 0;
  const server = createServer((socket: Socket) => {
    const source = socket.remoteAddress ?? '';
    const mine = perGuest.get(source) ?? 0;
    if (!forwarder.options.isGuest(source) || mine >= CONNECTIONS_PER_GUEST || open >= CONNECTIONS) return void socket.destroy();
    perGuest.set(source, mine + 1);
    open++;
    socket.once('close', () => {
      open--;
      const left = (perGuest.get(source) ?? 1) - 1;
      if (left > 0) perGuest.set(source, left);
      else perGuest.delete(source);
    });
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.on('error', () => {});
    // glibc sends the A and AAAA queries back to back on one connection: answered in turn.
    const queue: Buffer[] = [];
    let busy = false;
    const next = (): void => {
      // Checked before taking from the queue: a query that arrives while another is out waits its turn.
      if (busy) return;
      const query = queue.shift();
      if (!query) return;
      busy = true;
      void forwarder.options
        .upstreams()
        .then((upstream) => askUpstream(query, upstream))
        .then((answer) => (answer ? socket.write(frame(answer)) : socket.destroy()))
        .finally(() => {
          busy = false;
          forwarder.release(source);
          next();
        });
    };
    socket.once('close', () => {
      for (const _ of queue.splice(0)) forwarder.release(source);
    });
    const feed = framed(MAX_QUERY_BYTES, (query) => {
      if (queue.length >= QUEUED_PER_CONNECTION || !isQuery(query) || !forwarder.admit(source)) return void socket.destroy();
      queue.push(Buffer.from(query));
      next();
    });
    socket.on('data', (chunk) => feed(chunk) || socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
