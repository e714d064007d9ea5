import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { execa } from 'execa';
import { runPlugin } from '../../fixtures/cni.js';
import { DNS, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

// Published ports across what runtimes do besides a plain ADD and DEL: a
// re-ADD, `podman network reload` (a DEL, then an ADD into the same netns
// whose config lost its portMappings capability), a firewall that lost the
// rules (CHECK and status name them), and the last DEL, which leaves no empty
// dir of guestnet's behind.

const BACKENDS = ['nftables', 'iptables'] as const;
const CONFIG = { cniVersion: '1.0.0', name: 'guestnet-test', type: 'guestnet', dns: { nameservers: [DNS] } };
const published = (hostPort: number) => ({
  ...CONFIG,
  capabilities: { portMappings: true },
  runtimeConfig: { portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp' }] },
});
// What podman 4.3.1 hands the plugin for the ADD of `podman network reload`.
const RELOAD = { ...CONFIG, capabilities: { ips: true } };
const RELOAD_ARGS = { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;MAC=02:67:6e:11:03:03;IP=172.17.3.3' };
// How each backend loses the forwards' rules and nothing else.
const FLUSH_FORWARDS: Record<(typeof BACKENDS)[number], string[][]> = {
  nftables: [['nft', 'flush', 'map', 'ip', 'guestnet', 'port_forwards']],
  iptables: [
    ['iptables', '-t', 'nat', '-F', 'GUESTNET-PREROUTING'],
    ['iptables', '-t', 'nat', '-F', 'GUESTNET-OUTPUT'],
  ],
};

for (const firewall of BACKENDS)
  describe(`CNI plugin: published ports across re-ADD, reload and a firewall flush (${firewall})`, function () {
    this.timeout(60_000);
    let sandbox: Sandbox;
    let pristine: string;
    let container: string;
    const containerId = 'f00dfeed0123456789abcdef';
    const plugin = (command: string, config: object = CONFIG, env: Record<string, string> = {}) =>
      runPlugin({ sandbox, container, containerId }, command, config, env);
    const forwards = async () =>
      JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.find(
        (g: { id: string }) => g.id === `cni-${containerId}-eth0`,
      )?.forwards;

    /** What the uplink side gets from each host port while a server on port 80 in the container answers "container". */
    async function servedFromUplink(ports: number[]): Promise<string[]> {
      const server = execa('ip', [
        'netns',
        'exec',
        container,
        'node',
        '-e',
        "require('node:net').createServer((s) => s.end('container')).listen(80, () => console.log('ready'))",
      ]);
      await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
      try {
        const answers: string[] = [];
        for (const port of ports) answers.push((await sandbox.connectFromInternet(UPLINK.hostAddress, port)).stdout.trim());
        return answers;
      } finally {
        server.kill();
        await server.catch(() => {});
      }
    }

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      container = sandbox.hostNs.replace('gn-host', 'gn-ctr');
      await execa('ip', ['netns', 'add', container]);
      pristine = await sandbox.hostSnapshot();
    });
    after(async () => {
      await execa('ip', ['netns', 'del', container], { reject: false });
      await sandbox?.destroy();
    });

    it('a re-ADD keeps the published ports unless it names others', async () => {
      assert.equal((await plugin('ADD', published(8081))).exitCode, 0);
      const again = await plugin('ADD', RELOAD, RELOAD_ARGS);
      assert.equal(again.exitCode, 0, again.stdout);
      assert.deepEqual(await forwards(), [{ protocol: 'tcp', hostPort: 8081, guestPort: 80, inForce: true }]);
      assert.deepEqual(await servedFromUplink([8081]), ['container']);
      const moved = await plugin('ADD', published(8083));
      assert.equal(moved.exitCode, 0, moved.stdout);
      assert.deepEqual(await forwards(), [{ protocol: 'tcp', hostPort: 8083, guestPort: 80, inForce: true }]);
      assert.deepEqual(await servedFromUplink([8083, 8081]), ['container', ''], 'the port named before is no longer published');
      assert.equal((await plugin('DEL', published(8083))).exitCode, 0);
    });

    it("a DEL, then an ADD into the same netns that names no ports (podman network reload), keeps the container's ports", async () => {
      assert.equal((await plugin('ADD', published(8081))).exitCode, 0);
      assert.equal((await plugin('DEL', published(8081))).exitCode, 0);
      const readded = await plugin('ADD', RELOAD, RELOAD_ARGS);
      assert.equal(readded.exitCode, 0, readded.stdout);
      assert.deepEqual(await forwards(), [{ protocol: 'tcp', hostPort: 8081, guestPort: 80, inForce: true }]);
      assert.deepEqual(await servedFromUplink([8081]), ['container']);
      assert.equal((await plugin('CHECK', published(8081))).exitCode, 0);
    });

    it('CHECK fails naming the published ports not in force, status shows them, and a re-ADD puts them back', async () => {
      for (const argv of FLUSH_FORWARDS[firewall]) assert.equal((await sandbox.host(argv)).exitCode, 0, argv.join(' '));
      const check = await plugin('CHECK', published(8081));
      assert.deepEqual([check.exitCode, check.json?.code], [1, 100], check.stdout);
      assert.equal(check.json?.msg, 'published ports not in force: 8081->80/tcp');
      assert.deepEqual(await forwards(), [{ protocol: 'tcp', hostPort: 8081, guestPort: 80, inForce: false }]);
      const unknown = await plugin('CHECK', published(8084));
      assert.match(String(unknown.json?.msg), /^published ports not in force: 8084->80\/tcp, 8081->80\/tcp$/);
      assert.equal((await plugin('ADD', RELOAD, RELOAD_ARGS)).exitCode, 0);
      assert.equal((await plugin('CHECK', published(8081))).exitCode, 0);
      assert.deepEqual(await forwards(), [{ protocol: 'tcp', hostPort: 8081, guestPort: 80, inForce: true }]);
    });

    it('the last DEL leaves no dir of guestnet behind, once the netns whose ports it kept is gone', async () => {
      assert.equal((await plugin('DEL', published(8081))).exitCode, 0);
      await execa('ip', ['netns', 'del', container]);
      assert.equal((await plugin('DEL', published(8081), { CNI_NETNS: '' })).exitCode, 0);
      assert.deepEqual(await readdir(sandbox.stateDir), []);
      await execa('ip', ['netns', 'add', container]);
      assert.equal((await plugin('ADD')).exitCode, 0);
      assert.equal((await plugin('DEL')).exitCode, 0);
      assert.deepEqual(await readdir(sandbox.stateDir), [], 'a container without ports');
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('an ADD into a new netns does not take back the ports a DEL kept of the old one', async () => {
      assert.equal((await plugin('ADD', published(8081))).exitCode, 0);
      assert.equal((await plugin('DEL', published(8081))).exitCode, 0);
      await execa('ip', ['netns', 'del', container]);
      await execa('ip', ['netns', 'add', container]);
      assert.equal((await plugin('ADD', RELOAD, RELOAD_ARGS)).exitCode, 0);
      assert.deepEqual(await forwards(), []);
      assert.equal((await plugin('DEL')).exitCode, 0);
      assert.deepEqual(await readdir(sandbox.stateDir), []);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
