import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forCapabilities, receiveHello } from '@guestnet/host-agent';
import {
  encodeFrame,
  FramedConnection,
  GuestApplyError,
  type GuestConfig,
  type GuestMessage,
  PROTOCOL_VERSION,
  ProtocolError,
  parseGuestMessage,
} from '@guestnet/protocol';

const config: GuestConfig = {
  token: `guestnet:${'a'.repeat(32)}`,
  link: { rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' },
  dns: [],
};

describe('the exchange with a guest agent', () => {
  let dir: string;
  let server: Server;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-exchange-'));
    server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 's'), resolve));
  });
  afterEach(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The host's side of a connection on which the guest sent `message`. */
  async function sent(message: object): Promise<{ host: FramedConnection<GuestMessage>; guest: Socket }> {
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const guest = connect(join(dir, 's'));
    guest.write(encodeFrame(message));
    return { host: new FramedConnection(await accepted, parseGuestMessage), guest };
  }

  it('starts with a hello, and with nothing else', async () => {
    const hello = { type: 'hello', version: PROTOCOL_VERSION, links: ['c'.repeat(32)], nonce: 'a'.repeat(32), capabilities: ['ipv6'] };
    const first = await sent(hello);
    assert.deepEqual(await receiveHello(first.host), hello);
    first.guest.destroy();
    const second = await sent({ type: 'ping', seq: 1 });
    await assert.rejects(
      receiveHello(second.host),
      (error: unknown) => error instanceof ProtocolError && error.message === 'expected hello, got ping',
    );
    second.guest.destroy();
  });

  it('configures a guest only with what it announced it can take', () => {
    const withIpv6 = { ...config, link: { ...config.link, ipv6: { address: 'fd00::ac11:303', prefixLength: 64, gateway: 'fd00::1' } } };
    assert.equal(forCapabilities(withIpv6, []).link.ipv6, undefined);
    assert.deepEqual(forCapabilities(withIpv6, ['ipv6']), withIpv6);
    const dhcp = { ...config, link: { ...config.link, dhcp: true as const } };
    assert.deepEqual(forCapabilities(dhcp, ['dhcp']), dhcp);
    assert.throws(
      () => forCapabilities(dhcp, ['ipv6']),
      (error: unknown) => error instanceof GuestApplyError && /cannot take a DHCP lease/.test(error.message),
    );
  });
});
