import assert from 'node:assert/strict';
import { makeNetdHost } from '../../fixtures/android-host.js';
import { type Daemon, FIREWALLS, type Guest, Sandbox, SERVER, SETTLE_GUARD_MS, UPLINK } from '../../fixtures/sandbox.js';

// The host's uplink carries less than the "internet" side sends, and drops
// the rest without a word, as a tunnel or a carrier link does. The guest's
// link must take the uplink's MTU, follow it when it changes, and a
// full-size download must complete.

const BULK_PORT = 9100;
const BULK_BYTES = 1 << 20;
const BULK_SERVER = `
require('node:net').createServer((s) => { s.on('error', () => {}); s.end(Buffer.alloc(${BULK_BYTES}, 7)); })
  .listen(${BULK_PORT}, '${SERVER.address}', () => console.log('ready'));`;
const BULK_CLIENT = `
let bytes = 0;
const s = require('node:net').connect(${BULK_PORT}, '${SERVER.address}');
s.on('data', (d) => (bytes += d.length));
s.on('end', () => { console.log(bytes); process.exit(0); });
s.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
setTimeout(() => { console.log('stalled at ' + bytes); process.exit(1); }, 15000);`;

// Each firewall backend, and a simulated Android host (netd's chains and policy routing).
for (const host of [...FIREWALLS, 'netd'] as const)
  describe(`host-agent serve: the guest link follows the uplink MTU (${host})`, function () {
    this.timeout(120_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let guest: Guest;
    let pristine: string;

    const setUplinkMtu = async (mtu: number) =>
      assert.equal((await sandbox.host(['ip', 'link', 'set', 'dev', 'wlan0', 'mtu', String(mtu)])).exitCode, 0);
    const mtuOf = async (run: (argv: string[]) => Promise<{ stdout: string }>, dev: string) =>
      JSON.parse((await run(['ip', '-j', 'link', 'show', 'dev', dev])).stdout)[0]?.mtu as number;
    const guestMtu = () => mtuOf((argv) => guest.exec(argv), 'wlan0');
    const download = async () => (await guest.exec(['node', '-e', BULK_CLIENT])).stdout.trim();

    before(async () => {
      sandbox = await Sandbox.create(host === 'netd' ? 'iptables' : host);
      if (host === 'netd') await makeNetdHost(sandbox, UPLINK.inetAddress, `198.51.100.0/${UPLINK.prefix}`);
      const server = sandbox.serveIn(sandbox.inetNs, ['node', '-e', BULK_SERVER]);
      await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
      await setUplinkMtu(1400);
      pristine = await sandbox.hostSnapshot();
      daemon = await sandbox.startDaemon();
      guest = await sandbox.startGuest();
    });
    after(async () => sandbox?.destroy());

    it("attaches with the uplink's MTU on both ends, and a full-size download completes", async () => {
      const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.equal(await guestMtu(), 1400);
      assert.equal(await mtuOf((argv) => sandbox.host(argv), 'vm_wlan'), 1400);
      assert.equal(await download(), String(BULK_BYTES));
    });

    it('follows a smaller uplink MTU without a re-attach, and the download still completes', async () => {
      await setUplinkMtu(1280);
      const started = Date.now();
      while ((await guestMtu()) !== 1280 && Date.now() - started < SETTLE_GUARD_MS) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await guestMtu(), 1280, daemon.output());
      assert.equal(await mtuOf((argv) => sandbox.host(argv), 'vm_wlan'), 1280);
      assert.equal(await download(), String(BULK_BYTES));
      const status = JSON.parse((await guest.agentStatus(true)).stdout);
      assert.equal(status.lastApply?.ok, true, JSON.stringify(status));
    });

    it('detach leaves the host as it was, but for the MTU the test itself changed', async () => {
      const detached = await sandbox.hostAgent(['detach', String(guest.pid)]);
      assert.equal(detached.exitCode, 0, detached.stderr);
      assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
      await daemon.stop();
      await setUplinkMtu(1400);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
