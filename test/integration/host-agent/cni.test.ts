import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { PLUGIN, runPlugin } from '../../fixtures/cni.js';
import { DNS, Sandbox, SERVER, SERVER6, tcpClientScript, UPLINK } from '../../fixtures/sandbox.js';

const BACKENDS = ['nftables', 'iptables'] as const;

const CONFIG = { cniVersion: '1.0.0', name: 'guestnet-test', type: 'guestnet', dns: { nameservers: [DNS] } };

for (const firewall of BACKENDS)
  describe(`CNI plugin deploy/cni/guestnet, driven exactly as a runtime drives it (${firewall})`, function () {
    this.timeout(60_000);
    let sandbox: Sandbox;
    let pristine: string;
    let container: string;
    const containerId = 'f00dfeed0123456789abcdef';

    const plugin = (command: string, config: object | string = CONFIG, env: Record<string, string> = {}) =>
      runPlugin({ sandbox, container, containerId }, command, config, env);

    const inContainer = (argv: string[]) => execa('ip', ['netns', 'exec', container, ...argv], { reject: false });

    /** Runs `check` while a server on port 80 in the container answers "container". */
    async function withContainerServer(check: () => Promise<void>): Promise<void> {
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
        await check();
      } finally {
        server.kill();
        await server.catch(() => {});
      }
    }

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      container = `${sandbox.hostNs.replace('gn-host', 'gn-ctr')}`;
      await execa('ip', ['netns', 'add', container]);
      pristine = await sandbox.hostSnapshot();
    });
    after(async () => {
      await execa('ip', ['netns', 'del', container], { reject: false });
      await sandbox?.destroy();
    });

    it("VERSION lists the versions it speaks, in the request's version; --version names the release", async () => {
      for (const cniVersion of ['1.0.0', '1.1.0']) {
        const run = await plugin('VERSION', { cniVersion });
        assert.equal(run.exitCode, 0);
        assert.deepEqual(run.json, { cniVersion, supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
      }
      const release = await execa(PLUGIN, ['--version'], { reject: false });
      assert.equal(release.exitCode, 0, release.stderr);
      assert.equal(release.stdout, 'guestnet 0.1.0 (CNI plugin; CNI 0.4.0, 1.0.0, 1.1.0)');
    });

    it('ADD wires the container and prints a spec result: interfaces, ips, routes, dns', async () => {
      const run = await plugin('ADD');
      assert.equal(run.exitCode, 0, run.stdout);
      const result = run.json as { interfaces: Array<{ name: string; sandbox?: string }>; ips: unknown[]; routes: unknown[]; dns: unknown };
      assert.equal(result.interfaces[1]?.name, 'eth0');
      assert.equal(result.interfaces[1]?.sandbox, `/run/netns/${container}`);
      assert.deepEqual(result.ips, [{ address: '172.17.3.3/16', gateway: '172.17.3.2', interface: 1 }]);
      assert.deepEqual(result.routes, [{ dst: '0.0.0.0/0', gw: '172.17.3.2' }]);
      assert.deepEqual(result.dns, { nameservers: [DNS] });
    });

    it('the container is online through NAT', async () => {
      const fetched = await inContainer(['node', '-e', tcpClientScript(SERVER.address, SERVER.port)]);
      assert.equal(fetched.stdout.trim(), UPLINK.hostAddress, fetched.stderr);
    });

    it('host-agent status lists the container beside process guests', async () => {
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
      assert.equal(status.guests[0].id, `cni-${containerId}-eth0`);
      assert.equal(status.guests[0].pid, null);
      assert.equal(status.guests[0].state, 'alive');
    });

    it('CHECK succeeds silently, and fails with a spec error once the container lost its route', async () => {
      const ok = await plugin('CHECK');
      assert.equal(ok.exitCode, 0, ok.stdout);
      assert.equal(ok.stdout, '');
      await inContainer(['ip', 'route', 'del', 'default']);
      const broken = await plugin('CHECK');
      assert.equal(broken.exitCode, 1);
      assert.equal(broken.json?.code, 100);
      assert.match(String(broken.json?.msg), /no default route via 172\.17\.3\.2/);
      await inContainer(['ip', 'route', 'add', 'default', 'via', '172.17.3.2']);
    });

    it('DEL removes everything, and a second DEL succeeds too', async () => {
      for (let i = 0; i < 2; i++) {
        const run = await plugin('DEL');
        assert.equal(run.exitCode, 0, run.stdout);
        assert.equal(run.stdout, '');
      }
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('DEL after the runtime already removed the netns cleans up the host side', async () => {
      assert.equal((await plugin('ADD')).exitCode, 0);
      await execa('ip', ['netns', 'del', container]);
      assert.equal((await plugin('DEL')).exitCode, 0);
      assert.equal((await plugin('DEL', CONFIG, { CNI_NETNS: '' })).exitCode, 0);
      assert.equal(await sandbox.hostSnapshot(), pristine);
      await execa('ip', ['netns', 'add', container]);
    });

    it('DEL cleans up from the record even when the config changed since ADD, or cannot be read at all', async () => {
      for (const config of [{ ...CONFIG, hairpin: true, pool: '10.0.0.0/33' }, '{ not json']) {
        assert.equal((await plugin('ADD')).exitCode, 0);
        const run = await plugin('DEL', config);
        assert.equal(run.exitCode, 0, run.stdout);
        assert.equal(await sandbox.hostSnapshot(), pristine);
      }
    });

    it('GC (CNI 1.1) removes the attachments of this network the runtime no longer knows, and only those', async () => {
      const second = `${container}-2`;
      await execa('ip', ['netns', 'add', second]);
      try {
        assert.equal((await plugin('ADD')).exitCode, 0);
        const other = { CNI_CONTAINERID: 'c0ffee', CNI_NETNS: `/run/netns/${second}` };
        assert.equal((await plugin('ADD', CONFIG, other)).exitCode, 0);
        // Another network's attachment is not this GC's to judge.
        assert.equal((await plugin('ADD', { ...CONFIG, name: 'another' }, { ...other, CNI_IFNAME: 'eth1' })).exitCode, 0);
        const gc = { ...CONFIG, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: containerId, ifname: 'eth0' }] };
        const run = await plugin('GC', gc, { CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '' });
        assert.equal(run.exitCode, 0, run.stdout);
        const ids = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.map((g: { id: string }) => g.id);
        assert.deepEqual(ids.sort(), ['cni-c0ffee-eth1', `cni-${containerId}-eth0`]);
        const fetched = await inContainer(['node', '-e', tcpClientScript(SERVER.address, SERVER.port)]);
        assert.equal(fetched.stdout.trim(), UPLINK.hostAddress, 'the valid attachment stays online');
        assert.equal((await plugin('DEL')).exitCode, 0);
        assert.equal((await plugin('DEL', CONFIG, { ...other, CNI_IFNAME: 'eth1' })).exitCode, 0);
        assert.equal(await sandbox.hostSnapshot(), pristine);
      } finally {
        await execa('ip', ['netns', 'del', second], { reject: false });
      }
    });

    it('ADD with portMappings publishes the container port on the host, from the uplink side, the host itself and another container', async () => {
      const mapped = {
        ...CONFIG,
        capabilities: { portMappings: true },
        runtimeConfig: { portMappings: [{ hostPort: 8081, containerPort: 80, protocol: 'tcp', hostIP: '' }] },
      };
      const neighbour = `${container}-n`;
      const other = { CNI_CONTAINERID: 'beef01', CNI_NETNS: `/run/netns/${neighbour}` };
      await execa('ip', ['netns', 'add', neighbour]);
      try {
        assert.equal((await plugin('ADD', mapped)).exitCode, 0);
        assert.equal((await plugin('ADD', CONFIG, other)).exitCode, 0);
        await withContainerServer(async () => {
          assert.equal((await sandbox.connectFromInternet(UPLINK.hostAddress, 8081)).stdout.trim(), 'container', 'from the uplink side');
          assert.equal(
            (await sandbox.host(['node', '-e', tcpClientScript(UPLINK.hostAddress, 8081)])).stdout.trim(),
            'container',
            'from the host',
          );
          const fromNeighbour = await execa('ip', ['netns', 'exec', neighbour, 'node', '-e', tcpClientScript(UPLINK.hostAddress, 8081)], {
            reject: false,
          });
          assert.equal(fromNeighbour.stdout.trim(), 'container', 'from another container');
          const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
          assert.deepEqual(status.guests.find((g: { id: string }) => g.id === `cni-${containerId}-eth0`).forwards, [
            { protocol: 'tcp', hostPort: 8081, guestPort: 80, inForce: true },
          ]);
        });
        assert.equal((await plugin('DEL', CONFIG, other)).exitCode, 0);
        assert.equal((await plugin('DEL', mapped)).exitCode, 0);
      } finally {
        await execa('ip', ['netns', 'del', neighbour], { reject: false });
      }
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('ADD with a hostIP publishes on that host address only', async () => {
      const mapped = {
        ...CONFIG,
        capabilities: { portMappings: true },
        runtimeConfig: { portMappings: [{ hostPort: 8082, containerPort: 80, protocol: 'tcp', hostIP: UPLINK.hostAddress }] },
      };
      assert.equal((await plugin('ADD', mapped)).exitCode, 0);
      await withContainerServer(async () => {
        assert.equal(
          (await sandbox.host(['node', '-e', tcpClientScript(UPLINK.hostAddress, 8082)])).stdout.trim(),
          'container',
          'at the hostIP',
        );
        assert.notEqual(
          (await sandbox.host(['node', '-e', tcpClientScript('172.17.3.2', 8082)])).stdout.trim(),
          'container',
          'at another host address',
        );
      });
      assert.equal((await plugin('DEL', mapped)).exitCode, 0);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('ADD gives a requested address and MAC, and refuses one outside the pool or already taken', async () => {
      const asking = (ips: string[], mac?: string) => ({
        ...CONFIG,
        capabilities: { ips: true, mac: true },
        runtimeConfig: { ips, ...(mac ? { mac } : {}) },
      });
      const run = await plugin('ADD', asking(['172.17.9.9/16'], '02:12:34:56:78:9a'));
      assert.equal(run.exitCode, 0, run.stdout);
      const result = run.json as { ips: Array<{ address: string }>; interfaces: Array<{ mac?: string }> };
      assert.equal(result.ips[0]?.address, '172.17.9.9/16');
      assert.equal(result.interfaces[1]?.mac, '02:12:34:56:78:9a');
      const [link] = JSON.parse((await inContainer(['ip', '-j', 'address', 'show', 'dev', 'eth0'])).stdout) as Array<{
        address: string;
        addr_info: Array<{ local: string }>;
      }>;
      assert.deepEqual([link?.address, link?.addr_info.find((a) => a.local.includes('.'))?.local], ['02:12:34:56:78:9a', '172.17.9.9']);
      const outside = await plugin('ADD', asking(['192.0.2.9/24']), { CNI_CONTAINERID: 'c0ffee' });
      assert.deepEqual([outside.exitCode, outside.json?.code], [1, 7]);
      const taken = await plugin('ADD', asking(['172.17.9.9/16']), { CNI_CONTAINERID: 'c0ffee' });
      assert.equal(taken.exitCode, 1);
      assert.match(String(taken.json?.msg), /172\.17\.9\.9 is already leased/);
      assert.equal((await plugin('DEL')).exitCode, 0);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('GC and STATUS, which came with CNI 1.1.0, fail with code 1 for an older config, and GC then removes nothing', async () => {
      assert.equal((await plugin('ADD')).exitCode, 0);
      const noEnv = { CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '' };
      const gc = await plugin('GC', { ...CONFIG, 'cni.dev/valid-attachments': [] }, noEnv);
      assert.deepEqual([gc.exitCode, gc.json?.code, gc.json?.cniVersion], [1, 1, '1.0.0'], gc.stdout);
      assert.match(String(gc.json?.msg), /^GC is a CNI 1\.1\.0 command; this config is cniVersion 1\.0\.0$/);
      const status = await plugin('STATUS', CONFIG, noEnv);
      assert.deepEqual([status.exitCode, status.json?.code], [1, 1], status.stdout);
      const ids = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.map((g: { id: string }) => g.id);
      assert.deepEqual(ids, [`cni-${containerId}-eth0`]);
      assert.equal((await plugin('DEL')).exitCode, 0);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('STATUS (CNI 1.1) succeeds when ADD could, and fails with code 50 and the reason when it could not', async () => {
      const healthy = await plugin('STATUS', { ...CONFIG, cniVersion: '1.1.0' });
      assert.equal(healthy.exitCode, 0, healthy.stdout);
      assert.equal(healthy.stdout, '');
      const broken = await plugin('STATUS', { ...CONFIG, cniVersion: '1.1.0', uplink: 'gn-nowhere0' });
      assert.equal(broken.exitCode, 1);
      assert.equal(broken.json?.code, 50);
      assert.match(String(broken.json?.msg), /cannot add containers now: uplink gn-nowhere0 does not exist/);
      const notADir = join(sandbox.dir, 'not-a-dir');
      await writeFile(notADir, '');
      const unusable = await plugin('STATUS', { ...CONFIG, cniVersion: '1.1.0' }, { GUESTNET_STATE_DIR: notADir });
      assert.deepEqual([unusable.exitCode, unusable.json?.code], [1, 50]);
      assert.match(String(unusable.json?.msg), /cannot add containers now: .*not-a-dir/);
      // A PATH with node (and what the launcher script uses) but without ip, nsenter or nft.
      const onlyNode = join(sandbox.dir, 'only-node');
      await mkdir(onlyNode);
      await symlink(process.execPath, join(onlyNode, 'node'));
      for (const tool of ['dirname', 'readlink']) await symlink(`/usr/bin/${tool}`, join(onlyNode, tool));
      const noTools = await plugin('STATUS', { ...CONFIG, cniVersion: '1.1.0' }, { PATH: onlyNode });
      assert.deepEqual([noTools.exitCode, noTools.json?.code], [1, 50], noTools.stdout);
      assert.match(String(noTools.json?.msg), /cannot add containers now: .*\bip\b/);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    for (const [label, config, env, code] of [
      ['an unsupported cniVersion', { ...CONFIG, cniVersion: '0.1.0' }, {}, 1],
      ['an unknown field', { ...CONFIG, ipam: { type: 'host-local' } }, {}, 2],
      ['an unknown field, in CNI 1.1.0', { ...CONFIG, cniVersion: '1.1.0', ipam: { type: 'host-local' } }, {}, 2],
      ['a network name that holds U+202E', { ...CONFIG, name: 'gn\u202etset' }, {}, 7],
      ['a network name that holds NUL', { ...CONFIG, name: 'gn\u0000test' }, {}, 7],
      ['a container id that holds U+202E', CONFIG, { CNI_CONTAINERID: 'f00d\u202e' }, 4],
      ['a bad pool', { ...CONFIG, pool: '10.0.0.0/33' }, {}, 7],
      ['a missing CNI_IFNAME', CONFIG, { CNI_IFNAME: '' }, 4],
      ['a netns that does not exist', CONFIG, { CNI_NETNS: '/run/netns/gn-no-such' }, 3],
    ] as const) {
      it(`ADD with ${label} fails with spec code ${code}, in the request's version, and changes nothing`, async () => {
        const run = await plugin('ADD', config, env);
        assert.equal(run.exitCode, 1);
        assert.equal(run.json?.code, code, run.stdout);
        assert.equal(run.json?.cniVersion, config.cniVersion);
        assert.match(String(run.json?.msg), /^[\x20-\x7e]+$/, 'one printable line');
        assert.equal(await sandbox.hostSnapshot(), pristine);
        assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, [], 'nothing stored');
      });
    }
  });

describe('CNI plugin on a dual-stack host: results carry both families', function () {
  this.timeout(60_000);
  const V6 = { host: '2001:db8:1::2', inet: '2001:db8:1::1' };
  const containerId = 'dua157ac0123456789abcdef';
  let sandbox: Sandbox;
  let container: string;
  let pristine: string;
  const plugin = (command: string, config: object = { ...CONFIG, ipv6: 'nat' }) =>
    runPlugin({ sandbox, container, containerId }, command, config);

  before(async () => {
    sandbox = await Sandbox.create();
    container = sandbox.hostNs.replace('gn-host', 'gn-ctr');
    await execa('ip', ['netns', 'add', container]);
    for (const [run, argv] of [
      [sandbox.inet.bind(sandbox), ['ip', '-6', 'address', 'add', `${V6.inet}/64`, 'dev', 'uplink0', 'nodad']],
      [sandbox.host.bind(sandbox), ['ip', '-6', 'address', 'add', `${V6.host}/64`, 'dev', 'wlan0', 'nodad']],
      [sandbox.host.bind(sandbox), ['ip', '-6', 'route', 'add', 'default', 'via', V6.inet]],
    ] as const)
      assert.equal((await run([...argv])).exitCode, 0, argv.join(' '));
    await sandbox.startServer6();
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => {
    await execa('ip', ['netns', 'del', container], { reject: false });
    await sandbox?.destroy();
  });

  it('ADD returns an IPv4 and an IPv6 address with their default routes, and the container reaches an IPv6 server', async () => {
    const run = await plugin('ADD');
    assert.equal(run.exitCode, 0, run.stdout);
    const result = run.json as { ips: Array<{ address: string; gateway: string }>; routes: Array<{ dst: string; gw: string }> };
    assert.equal(result.ips.length, 2);
    const [four, six] = result.ips;
    assert.equal(four?.address, '172.17.3.3/16');
    assert.match(six?.address ?? '', /^fd[0-9a-f:]+:ac11:303\/64$/);
    assert.deepEqual(
      result.routes.map((r) => r.dst),
      ['0.0.0.0/0', '::/0'],
    );
    assert.equal(result.routes[1]?.gw, six?.gateway);
    const inside = await execa('ip', ['netns', 'exec', container, 'ip', '-6', 'address', 'show', 'dev', 'eth0', 'scope', 'global'], {
      reject: false,
    });
    assert.match(inside.stdout, new RegExp(`inet6 ${six?.address}`));
    let seen = '';
    for (let i = 0; i < 20 && seen !== V6.host; i++)
      seen = (
        await execa('ip', ['netns', 'exec', container, 'node', '-e', tcpClientScript(SERVER6.address, SERVER6.port, 500)], {
          reject: false,
        })
      ).stdout.trim();
    assert.equal(seen, V6.host);
    assert.equal((await plugin('CHECK')).exitCode, 0);
  });

  it('DEL leaves the host as it was', async () => {
    assert.equal((await plugin('DEL')).exitCode, 0);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
