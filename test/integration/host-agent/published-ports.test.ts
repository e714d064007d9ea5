import assert from 'node:assert/strict';
import { execa } from 'execa';
import { runPlugin } from '../../fixtures/cni.js';
import { DNS, NODE, Sandbox, tcpClientScript, UPLINK } from '../../fixtures/sandbox.js';

// Published ports from every address, as Docker and CNI portmap make them:
// from outside to the uplink's address, from the host itself to 127.0.0.1
// and to its own addresses, and from another container (hairpin). A port
// published on 127.0.0.1 only is the host's alone. Real connections to a
// server in one container; a second container is the other guest.

const BACKENDS = ['nftables', 'iptables'] as const;
const CONFIG = { cniVersion: '1.0.0', name: 'guestnet-test', type: 'guestnet', dns: { nameservers: [DNS] } };
const EVERYWHERE = 8081;
const LOCAL_ONLY = 8083;
const WEB = {
  ...CONFIG,
  capabilities: { portMappings: true },
  runtimeConfig: {
    portMappings: [
      { hostPort: EVERYWHERE, containerPort: 80, protocol: 'tcp' },
      { hostPort: LOCAL_ONLY, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' },
    ],
  },
};

for (const firewall of BACKENDS)
  describe(`published ports from every address (${firewall})`, function () {
    this.timeout(60_000);
    let sandbox: Sandbox;
    let web: string;
    let other: string;
    let server: ReturnType<typeof execa>;
    const answer = async (netns: string, address: string, port: number) =>
      (await execa('ip', ['netns', 'exec', netns, NODE, '-e', tcpClientScript(address, port)], { reject: false })).stdout.trim();
    const routeLocalnet = async () =>
      (await sandbox.host(['sh', '-c', 'grep -l 1 /proc/sys/net/ipv4/conf/*/route_localnet || true'])).stdout
        .split('\n')
        .filter(Boolean)
        .map((path) => path.split('/')[6]);

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      web = sandbox.hostNs.replace('gn-host', 'gn-web');
      other = sandbox.hostNs.replace('gn-host', 'gn-oth');
      await execa('ip', ['netns', 'add', web]);
      await execa('ip', ['netns', 'add', other]);
      const added = await runPlugin({ sandbox, container: web, containerId: 'web0123456789abcdef' }, 'ADD', WEB);
      assert.equal(added.exitCode, 0, added.stdout);
      const added2 = await runPlugin({ sandbox, container: other, containerId: 'oth0123456789abcdef' }, 'ADD', CONFIG);
      assert.equal(added2.exitCode, 0, added2.stdout);
      server = execa('ip', [
        'netns',
        'exec',
        web,
        NODE,
        '-e',
        "require('node:net').createServer((s) => s.end('container')).listen(80, () => console.log('ready'))",
      ]);
      await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
    });
    after(async () => {
      server?.kill();
      await server?.catch(() => {});
      if (sandbox) {
        await runPlugin({ sandbox, container: web, containerId: 'web0123456789abcdef' }, 'DEL', WEB);
        await runPlugin({ sandbox, container: other, containerId: 'oth0123456789abcdef' }, 'DEL', CONFIG);
      }
      await execa('ip', ['netns', 'del', web], { reject: false });
      await execa('ip', ['netns', 'del', other], { reject: false });
      await sandbox?.destroy();
    });

    it('from outside to the uplink address; the port bound to 127.0.0.1 is not published there', async () => {
      assert.equal((await sandbox.connectFromInternet(UPLINK.hostAddress, EVERYWHERE)).stdout.trim(), 'container');
      assert.equal((await sandbox.connectFromInternet(UPLINK.hostAddress, LOCAL_ONLY)).stdout.trim(), '');
    });

    it('from the host itself to 127.0.0.1, both ports', async () => {
      assert.equal(await answer(sandbox.hostNs, '127.0.0.1', EVERYWHERE), 'container');
      assert.equal(await answer(sandbox.hostNs, '127.0.0.1', LOCAL_ONLY), 'container');
    });

    it('from the host itself to its own uplink address', async () => {
      assert.equal(await answer(sandbox.hostNs, UPLINK.hostAddress, EVERYWHERE), 'container');
      assert.equal(await answer(sandbox.hostNs, UPLINK.hostAddress, LOCAL_ONLY), '');
    });

    it('from another container and from the container itself (hairpin), never the port bound to 127.0.0.1', async () => {
      assert.equal(await answer(other, UPLINK.hostAddress, EVERYWHERE), 'container');
      assert.equal(await answer(web, UPLINK.hostAddress, EVERYWHERE), 'container');
      assert.equal(await answer(other, UPLINK.hostAddress, LOCAL_ONLY), '');
    });

    // As CVE-2020-8558 did to kube-proxy: route_localnet must not open the host's loopback to its neighbours.
    it('a container that sends to 127.0.0.1 through its gateway reaches neither port', async () => {
      const ip = (...argv: string[]) => execa('ip', ['-n', other, ...argv]);
      const [route] = JSON.parse((await ip('-j', '-4', 'route', 'show', 'default')).stdout) as Array<{ gateway: string }>;
      const [link] = JSON.parse((await ip('-j', '-4', 'address', 'show', 'dev', 'eth0')).stdout) as Array<{
        addr_info: Array<{ local: string }>;
      }>;
      await ip(
        'route',
        'add',
        '127.0.0.1/32',
        'via',
        route?.gateway ?? '',
        'dev',
        'eth0',
        'src',
        link?.addr_info[0]?.local ?? '',
        'table',
        '100',
      );
      await ip('rule', 'add', 'pref', '10', 'to', '127.0.0.1', 'lookup', '100');
      await ip('rule', 'del', 'pref', '0', 'lookup', 'local');
      await ip('rule', 'add', 'pref', '20', 'lookup', 'local');
      await execa('ip', [
        'netns',
        'exec',
        other,
        'sysctl',
        '-qw',
        'net.ipv4.conf.all.route_localnet=1',
        'net.ipv4.conf.eth0.route_localnet=1',
      ]);
      const sent = await execa('ip', ['netns', 'exec', other, 'ip', 'route', 'get', '127.0.0.1']);
      assert.match(sent.stdout, /dev eth0/, 'the container does not send to 127.0.0.1 through its gateway');
      assert.equal(await answer(other, '127.0.0.1', LOCAL_ONLY), '');
      assert.equal(await answer(other, '127.0.0.1', EVERYWHERE), '');
    });

    it('route_localnet is on for the published container link only, and goes with it', async () => {
      const links = await routeLocalnet();
      assert.equal(links.length, 1, `route_localnet on ${links.join(' ')}`);
      assert.notEqual(links[0], 'all');
      await runPlugin({ sandbox, container: web, containerId: 'web0123456789abcdef' }, 'DEL', WEB);
      assert.deepEqual(await routeLocalnet(), []);
    });
  });
