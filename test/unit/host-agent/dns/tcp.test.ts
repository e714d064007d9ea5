import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveDnsTcp } from '@guestnet/host-agent';
import { QUERY } from '../../../fixtures/dns-query.js';

const frame = (message: Buffer) => Buffer.concat([Buffer.from([message.length >> 8, message.length & 0xff]), message]);

/** Sends `bytes` on a new connection; resolves to what came back before the server closed it or `wanted` bytes arrived. */
async function exchange(port: number, bytes: Buffer, wanted = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let length = 0;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= wanted) socket.end();
  });
  socket.on('error', () => {});
  socket.write(bytes);
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

describe("the DNS forwarder's TCP side", () => {
  let dir: string;
  let netd: Server;
  let server: Server;
  let port: number;
  let guests: Set<string>;
  const admitted: string[] = [];
  const released: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gn-dns-tcp-'));
    const socket = join(dir, 'dnsproxyd');
    // Speaks netd's resnsend: the rcode, then the length and the answer (the query, flagged as one).
    netd = createServer((client) => {
      client.once('data', (data) => {
        const query = Buffer.from(data.toString().replace(/\0$/, '').split(' ')[3] ?? '', 'base64');
        const answer = Buffer.from(query);
        answer[2] = 0x81;
        const head = Buffer.alloc(8);
        head.writeInt32BE(answer.length, 4);
        client.end(Buffer.concat([head, answer]));
      });
    });
    await new Promise<void>((resolve) => netd.listen(socket, () => resolve()));
    server = await serveDnsTcp('127.0.0.1', 0, {
      options: { upstreams: async () => ({ netd: socket }), isGuest: (address) => guests.has(address) },
      admit: (source) => {
        admitted.push(source);
        return true;
      },
      release: (source) => void released.push(source),
    });
    port = (server.address() as AddressInfo).port;
  });
  beforeEach(() => {
    guests = new Set(['127.0.0.1']);
    admitted.length = 0;
    released.length = 0;
  });
  after(async () => {
    server.close();
    netd.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers a guest's framed queries in turn, the second sent before the first is answered, counting each in and out", async () => {
    const reply = await exchange(port, Buffer.concat([frame(QUERY), frame(QUERY)]), 2 * (2 + QUERY.length));
    assert.equal(reply.length, 2 * (2 + QUERY.length));
    assert.equal(reply.readUInt16BE(0), QUERY.length);
    assert.equal(reply[4], 0x81, 'the answer, flagged as one');
    assert.deepEqual(admitted, ['127.0.0.1', '127.0.0.1']);
    for (let i = 0; i < 100 && released.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(released, ['127.0.0.1', '127.0.0.1']);
  });

  it('closes on anyone but a guest, on a frame longer than a query may be, and on an answer instead of a query', async () => {
    guests = new Set();
    assert.equal((await exchange(port, frame(QUERY))).length, 0);
    guests = new Set(['127.0.0.1']);
    assert.equal((await exchange(port, Buffer.from([0xff, 0xff, 0]))).length, 0);
    const answer = Buffer.from(QUERY);
    answer[2] = 0x81;
    assert.equal((await exchange(port, frame(answer))).length, 0);
    assert.deepEqual(admitted, []);
  });
});
