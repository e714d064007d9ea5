import assert from 'node:assert/strict';
import { FIREWALLS, type Guest, Sandbox, SERVER, tcpClientScript } from '../../fixtures/sandbox.js';

const HOST_PORT = 9100;
const HELD_PORT = 8081;

/** A server that answers "host" (or holds each connection open for a few seconds). */
const server = (address: string, port: number, hold = false) =>
  `require('node:net')
    .createServer((s) => { s.on('error', () => {}); ${hold ? 'setTimeout(() => s.destroy(), 4000)' : "s.end('host')"}; })
    .listen(${port}, '${address}', () => console.log('ready'))`;

// What the rules do beyond getting guests online, on every backend.
for (const firewall of FIREWALLS)
  describe(`firewall rules for guests (${firewall})`, () => {
    let sandbox: Sandbox;
    let guest: Guest;

    const ready = async (child: ReturnType<Sandbox['serveIn']>) => new Promise((resolve) => child.stdout?.once('data', resolve));

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      guest = await sandbox.startGuest();
      const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
      assert.equal(attached.exitCode, 0, attached.stderr);
    });
    after(async () => sandbox?.destroy());

    it('a guest cannot open connections to the host itself; the host still reaches the guest and gets replies', async () => {
      await ready(sandbox.serveIn(sandbox.hostNs, ['node', '-e', server('0.0.0.0', HOST_PORT)]));
      assert.equal(
        (await sandbox.host(['node', '-e', tcpClientScript('127.0.0.1', HOST_PORT)])).stdout.trim(),
        'host',
        'the listener is up',
      );
      const fromGuest = await guest.exec(['node', '-e', tcpClientScript('172.17.3.2', HOST_PORT)]);
      assert.notEqual(fromGuest.exitCode, 0, 'the guest opened a connection to the host');
      const listener = guest.exec([
        'timeout',
        '10',
        'node',
        '-e',
        `require('node:net').createServer((s) => s.end('guest')).listen(${HOST_PORT}, () => console.log('ready'))`,
      ]);
      let fromHost = '';
      for (let i = 0; i < 40 && fromHost !== 'guest'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        fromHost = (await sandbox.host(['node', '-e', tcpClientScript('172.17.3.3', HOST_PORT)])).stdout.trim();
      }
      await guest.exec(['pkill', '-f', `listen\\(${HOST_PORT}`]);
      await listener;
      assert.equal(fromHost, 'guest', "the host's connection to the guest got no reply");
    });

    it('clamps TCP MSS to the path MTU: a 1280-byte uplink gives the server MSS 1240, not 1460', async () => {
      await sandbox.host(['ip', 'link', 'set', 'dev', 'wlan0', 'mtu', '1280']);
      try {
        await ready(sandbox.serveIn(sandbox.inetNs, ['node', '-e', server(SERVER.address, HELD_PORT, true)]));
        const client = guest.exec([
          'node',
          '-e',
          `require('node:net').connect(${HELD_PORT}, '${SERVER.address}').on('error', () => {}); setTimeout(() => process.exit(0), 3000);`,
        ]);
        let mss: number | undefined;
        for (let i = 0; i < 40 && mss === undefined; i++) {
          await new Promise((r) => setTimeout(r, 50));
          const seen = (await sandbox.inet(['ss', '-tin', 'sport', '=', `:${HELD_PORT}`])).stdout;
          const found = /\bmss:(\d+)/.exec(seen)?.[1];
          mss = found === undefined ? undefined : Number(found);
        }
        await client;
        // The server's send MSS is the peer's option less 12 bytes of timestamps: 1240 -> 1228, unclamped 1460 -> 1448.
        assert.equal(mss, 1228, `the server's MSS is ${mss}`);
      } finally {
        await sandbox.host(['ip', 'link', 'set', 'dev', 'wlan0', 'mtu', '1500']);
      }
    });
  });
