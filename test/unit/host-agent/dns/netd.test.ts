import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { askNetd, HostResolvers } from '@guestnet/host-agent';
import { QUERY } from '../../../fixtures/dns-query.js';

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
