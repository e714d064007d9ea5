import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { DhcpListenError, DhcpServer } from '@guestnet/host-agent';
import { GUEST, request, withType } from './packets.js';

// The DHCP server's socket, on a loopback port of its own (no root): only a
// client's port may ask, a port held by another server is one clear error,
// and closing it twice is harmless. Answers to clients (port 68, which needs
// root) are the integration tests'.

/** A free UDP port on 127.0.0.1, found by binding one and letting it go. */
async function freePort(): Promise<number> {
  const probe = createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

describe('dhcp/transport: the DHCP server socket', () => {
  it("drops what does not come from a client's port 68, counted and never answered", async () => {
    const port = await freePort();
    const events: unknown[] = [];
    const server = new DhcpServer({ lookup: () => GUEST, address: '127.0.0.1', port, onEvent: (e) => events.push(e) });
    await server.start();
    const sender = createSocket('udp4');
    sender.bind(0, '127.0.0.1');
    await once(sender, 'listening');
    const answers: Buffer[] = [];
    sender.on('message', (m) => answers.push(m));
    sender.send(request({ chaddr: GUEST.mac, options: withType(1) }), port, '127.0.0.1');
    for (let i = 0; i < 100 && server.stats().dropped.malformed === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.stats().dropped.malformed, 1);
    assert.equal(server.stats().answered, 0);
    assert.deepEqual([answers, events], [[], []]);
    sender.close();
    await server.close();
  });

  it('fails in one line naming why when another server holds the port on every address', async () => {
    const port = await freePort();
    const holder = createSocket('udp4');
    holder.bind(port, '127.0.0.1');
    await once(holder, 'listening');
    const server = new DhcpServer({ lookup: () => undefined, address: '127.0.0.1', port });
    await assert.rejects(server.start(), (e: unknown) => {
      assert.ok(e instanceof DhcpListenError);
      assert.equal(e.errno, 'EADDRINUSE');
      assert.equal(
        e.message,
        `cannot serve DHCP on UDP port ${port}: another DHCP server holds it on every interface (a dnsmasq without --bind-interfaces?)`,
      );
      return true;
    });
    await new Promise<void>((done) => holder.close(() => done()));
  });

  it('closes once started, and again, or never started, harmlessly', async () => {
    const server = new DhcpServer({ lookup: () => undefined, address: '127.0.0.1', port: await freePort() });
    await server.close();
    await server.start();
    await server.close();
    await server.close();
    assert.equal(server.stats().answered, 0);
  });
});
