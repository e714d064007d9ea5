import assert from 'node:assert/strict';
import type { GuestStatus } from '@guestnet/host-agent';
import { execa } from 'execa';
import { runPlugin } from '../../fixtures/cni.js';
import { join } from 'node:path';
import {
  type Daemon,
  DNS,
  type FirewallName,
  GUEST_AGENT,
  NODE,
  Sandbox,
  SERVER,
  SETTLE_GUARD_MS,
  tcpClientScript,
  UPLINK,
} from '../../fixtures/sandbox.js';

// The CNI config key guestConfig (issue 29). "dhcp": the daemon serving the
// state dir runs the ADD, makes the container's eth0 up with its MAC, and its
// DHCP server answers the container's own client (busybox udhcpc) with the
// address the ADD's result named. Without a daemon nothing would answer the
// container: the plugin refuses the ADD in one spec error and changes nothing.
// "host", the default, is what the plugin always did (cni.test.ts). Both
// firewall backends: the firewall is what lets the client reach the server.
// "agent": the container's own guest agent, served by the daemon.

const GATEWAY = '172.17.3.2';
const CONFIG = { cniVersion: '1.1.0', name: 'guestnet-test', type: 'guestnet', dns: { nameservers: [DNS] } };
const DHCP = { ...CONFIG, guestConfig: 'dhcp' };

for (const firewall of ['nftables', 'iptables'] as FirewallName[]) {
  describe(`CNI guestConfig "dhcp" (${firewall})`, function () {
    this.timeout(120_000);
    let sandbox: Sandbox;
    let daemon: Daemon | undefined;
    let pristine: string;
    let container: string;
    const containerId = 'dhc90123456789abcdef';
    const plugin = (command: string, config: object) => runPlugin({ sandbox, container, containerId }, command, config);
    const inContainer = (argv: string[]) => execa('ip', ['netns', 'exec', container, ...argv], { reject: false });
    /** A one-shot udhcpc: exits 0 with a lease, non-zero after its three tries. */
    const udhcpc = () => inContainer(['busybox', 'udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', '/bin/true', '-t', '3', '-T', '1']);

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      container = sandbox.hostNs.replace('gn-host', 'gn-ctr');
      await execa('ip', ['netns', 'add', container]);
      pristine = await sandbox.hostSnapshot();
    });
    after(async () => {
      await daemon?.stop();
      await execa('ip', ['netns', 'del', container], { reject: false });
      await sandbox?.destroy();
    });

    it('without a daemon, ADD is refused with code 11 in one line, and nothing is changed', async () => {
      const run = await plugin('ADD', DHCP);
      assert.equal(run.exitCode, 1, run.stdout);
      const error = run.json as { code: number; msg: string };
      assert.equal(error.code, 11, run.stdout);
      assert.match(error.msg, /^guestConfig "dhcp" needs host-agent serve serving \S+: none does/);
      assert.equal(await sandbox.hostSnapshot(), pristine);
      assert.equal((await inContainer(['ip', 'link', 'show', 'dev', 'eth0'])).exitCode, 1);
    });

    it("with the daemon, the container's own udhcpc gets the address ADD reported, and the container is online", async () => {
      daemon = await sandbox.startDaemon();
      const run = await plugin('ADD', DHCP);
      assert.equal(run.exitCode, 0, run.stdout);
      const result = run.json as { ips: Array<{ address: string; gateway: string }> };
      const [address] = (result.ips[0]?.address ?? '').split('/');
      assert.equal(result.ips[0]?.gateway, GATEWAY);
      // Nothing configured the container: its eth0 is up, with no address until its client asks.
      assert.equal((await inContainer(['ip', '-4', '-o', 'address', 'show', 'dev', 'eth0'])).stdout, '');
      const leased = await udhcpc();
      assert.equal(leased.exitCode, 0, leased.stderr);
      assert.match(leased.stderr, new RegExp(`lease of ${address?.replace(/\./g, '\\.')} obtained`));
      // udhcpc -s /bin/true configures nothing: the address and route are set as its script would.
      await inContainer(['ip', 'address', 'add', `${address}/16`, 'dev', 'eth0']);
      await inContainer(['ip', 'route', 'add', 'default', 'via', GATEWAY]);
      const fetched = await inContainer(['node', '-e', tcpClientScript(SERVER.address, SERVER.port)]);
      assert.equal(fetched.stdout.trim(), UPLINK.hostAddress, fetched.stderr);
      const [guest] = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as GuestStatus[];
      assert.equal(guest?.guestConfig, 'dhcp');
      assert.equal(guest?.dhcp?.state, 'bound');
      // CHECK leaves the container's end to its client: it checks the host side.
      const check = await plugin('CHECK', DHCP);
      assert.equal(check.exitCode, 0, check.stdout);
    });

    it('DEL takes it away, and the host is as it was', async () => {
      const del = await plugin('DEL', DHCP);
      assert.equal(del.exitCode, 0, del.stdout);
      assert.equal((await inContainer(['ip', 'link', 'show', 'dev', 'eth0'])).exitCode, 1);
      await daemon?.stop();
      daemon = undefined;
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
}

// "agent": the container runs the guest agent, which the daemon configures over the guest socket once it connects.
describe('CNI guestConfig "agent"', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let container: string;
  const containerId = 'a9e70123456789abcdef';
  const plugin = (command: string, config: object) => runPlugin({ sandbox, container, containerId }, command, config);
  const inContainer = (argv: string[]) => execa('ip', ['netns', 'exec', container, ...argv], { reject: false });

  before(async () => {
    sandbox = await Sandbox.create();
    container = sandbox.hostNs.replace('gn-host', 'gn-cta');
    await execa('ip', ['netns', 'add', container]);
  });
  after(async () => {
    await execa('ip', ['netns', 'del', container], { reject: false });
    await sandbox?.destroy();
  });

  it("ADD leaves the container's end to its agent, which the daemon configures once it connects", async () => {
    const daemon = await sandbox.startDaemon();
    const config = { ...CONFIG, guestConfig: 'agent' };
    const run = await plugin('ADD', config);
    assert.equal(run.exitCode, 0, run.stdout);
    const [address] = ((run.json as { ips: Array<{ address: string }> }).ips[0]?.address ?? '').split('/');
    assert.equal((await inContainer(['ip', '-4', '-o', 'address', 'show', 'dev', 'eth0'])).stdout, '', 'nothing configured it yet');
    const files = ['--resolv-conf', join(sandbox.dir, 'cta-resolv.conf'), '--status-file', join(sandbox.dir, 'cta-status.json')];
    sandbox.serveIn(container, [NODE, GUEST_AGENT, 'run', '--socket', sandbox.socket, ...files]).catch(() => {});
    let guest: GuestStatus | undefined;
    for (let end = Date.now() + SETTLE_GUARD_MS; Date.now() < end && guest?.agent !== 'connected'; ) {
      await new Promise((r) => setTimeout(r, 100));
      [guest] = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as GuestStatus[];
    }
    assert.deepEqual([guest?.guestConfig, guest?.agent], ['agent', 'connected']);
    let shown = '';
    for (
      let end = Date.now() + SETTLE_GUARD_MS;
      Date.now() < end && !shown.includes(`${address}/`);
      await new Promise((r) => setTimeout(r, 50))
    )
      shown = (await inContainer(['ip', '-4', '-o', 'address', 'show', 'dev', 'eth0'])).stdout;
    assert.match(shown, new RegExp(`inet ${address?.replace(/\./g, '\\.')}/16 `));
    const fetched = await inContainer([NODE, '-e', tcpClientScript(SERVER.address, SERVER.port)]);
    assert.equal(fetched.stdout.trim(), UPLINK.hostAddress, fetched.stderr);
    assert.equal((await plugin('DEL', config)).exitCode, 0);
    await daemon.stop();
  });
});
