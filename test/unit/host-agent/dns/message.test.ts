import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { askNetd, HostResolvers, isQuery, RateLimit, serverFailure, upstreamsIn } from '@guestnet/host-agent';

// device.example, type A, class IN, recursion desired.
const QUERY = Buffer.concat([
  Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 6]),
  Buffer.from('device'),
  Buffer.from([7]),
  Buffer.from('example'),
  Buffer.from([0, 0, 1, 0, 1]),
]);

describe('DNS forwarder: messages', () => {
  it('takes a standard query with one question', () => {
    assert.equal(isQuery(QUERY), true);
  });

  it('refuses answers, other opcodes, several questions, truncated names and oversized messages', () => {
    const changed = (at: number, value: number) => Buffer.from(QUERY).fill(value, at, at + 1);
    assert.equal(isQuery(changed(2, 0x81)), false, 'an answer');
    assert.equal(isQuery(changed(2, 0x28)), false, 'an UPDATE');
    assert.equal(isQuery(changed(5, 2)), false, 'two questions');
    assert.equal(isQuery(QUERY.subarray(0, 20)), false, 'a cut name');
    assert.equal(isQuery(changed(12, 200)), false, 'a label longer than 63');
    assert.equal(isQuery(Buffer.concat([QUERY, Buffer.alloc(5000)])), false, 'over 4096 bytes');
    assert.equal(isQuery(Buffer.alloc(5)), false, 'shorter than a header');
  });

  it('answers SERVFAIL with the question and the id, and no records', () => {
    const answer = serverFailure(QUERY);
    assert.equal(answer.readUInt16BE(0), 0xabcd);
    assert.equal(answer[2], 0x81);
    assert.equal((answer[3] as number) & 0x0f, 2);
    assert.deepEqual([answer.readUInt16BE(4), answer.readUInt16BE(6), answer.readUInt16BE(8), answer.readUInt16BE(10)], [1, 0, 0, 0]);
    assert.deepEqual(answer.subarray(12), QUERY.subarray(12));
  });

  it('limits each source to its rate, and refills it with time', () => {
    const limit = new RateLimit(10);
    const taken = Array.from({ length: 15 }, () => limit.take('a', 1000)).filter(Boolean).length;
    assert.equal(taken, 10);
    assert.equal(limit.take('b', 1000), true, 'another source has its own');
    assert.equal(limit.take('a', 1500), true, 'half a second later there are tokens again');
  });
});

describe('DNS forwarder: the host resolvers', () => {
  it('reads both families and a loopback stub, and at most four', () => {
    const conf =
      'search lan\nnameserver 127.0.0.53\nnameserver 2001:db8::53\nnameserver fe80::1%wlan0\n' +
      'nameserver not-an-address\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n';
    assert.deepEqual(upstreamsIn(conf), ['127.0.0.53', '2001:db8::53', 'fe80::1%wlan0', '192.0.2.1']);
  });

  it('follows a rewrite of the file, and a file that goes away', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gn-resolv-'));
    const path = join(dir, 'resolv.conf');
    try {
      await writeFile(path, 'nameserver 192.0.2.1\n');
      const resolvers = new HostResolvers(path, join(dir, 'no-netd'));
      assert.deepEqual(await resolvers.current(), { servers: ['192.0.2.1'] });
      await writeFile(path, 'nameserver 192.0.2.2\nnameserver 192.0.2.3\n');
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual(await resolvers.current(), { servers: ['192.0.2.2', '192.0.2.3'] });
      await rm(path);
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual(await resolvers.current(), { servers: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('DNS forwarder: netd on an Android host', () => {
  let dir: string;
  let socket: string;
  let server: Server;
  const commands: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gn-netd-'));
    socket = join(dir, 'dnsproxyd');
    // Speaks netd's resnsend: the rcode, then the length and the answer (the query, flagged as one).
    server = createServer((client) => {
      client.once('data', (data) => {
        const command = data.toString().replace(/\0$/, '');
        commands.push(command);
        const query = Buffer.from(command.split(' ')[3] ?? '', 'base64');
        if (query.length === 0) return void client.end(Buffer.from([0xff, 0xff, 0xff, 0xea]));
        const answer = Buffer.from(query);
        answer[2] = 0x81;
        const head = Buffer.alloc(8);
        head.writeInt32BE(0, 0);
        head.writeInt32BE(answer.length, 4);
        client.end(Buffer.concat([head, answer]));
      });
    });
    await new Promise<void>((resolve) => server.listen(socket, () => resolve()));
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is where queries go when resolv.conf names no resolver and its socket exists', async () => {
    const conf = join(dir, 'resolv.conf');
    await writeFile(conf, '# no nameserver on Android\n');
    assert.deepEqual(await new HostResolvers(conf, socket).current(), { netd: socket });
    assert.deepEqual(await new HostResolvers(join(dir, 'none'), socket).current(), { netd: socket });
  });

  it('sends resnsend on the default network and returns the answer', async () => {
    const answer = await askNetd(socket, QUERY);
    assert.equal(commands.at(-1), `resnsend 0 0 ${QUERY.toString('base64')}`);
    assert.deepEqual(answer?.subarray(3), QUERY.subarray(3));
    assert.equal(answer?.[2], 0x81);
  });

  it('gives nothing for an errno, a query too long for its command buffer, or no netd', async () => {
    assert.equal(await askNetd(socket, Buffer.alloc(0)), undefined);
    assert.equal(await askNetd(socket, Buffer.alloc(800)), undefined);
    assert.equal(await askNetd(join(dir, 'none'), QUERY), undefined);
  });
});
