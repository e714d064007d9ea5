import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { DNS, NODE, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

// What users run: `podman run --network <a guestnet network> -p 8081:80
// -p 127.0.0.1:8083:80`, then `podman network reload`, podman 4 with its CNI backend, in the
// sandbox's host netns, with an image built offline from busybox.
//
// Everything podman writes outside the sandbox dir (its netns files in
// /run/netns, the CNI cache in /var/lib/cni, crun's state in /run) lands on
// tmpfs mounted in the private mount namespace `ip netns exec` gives it, so
// nothing reaches this machine's own files. One shell session runs every
// podman command: a container's netns mount lives only in that namespace.
// Its /sys is the netns' own, without cgroups, so the container runs with
// --cgroups=disabled, and with limits this machine allows.

const PLUGIN = fileURLToPath(new URL('../../../../deploy/cni/guestnet', import.meta.url));
const NAME = 'gn-podman-web';
const fetchScript = (address: string, port: number) => `require('node:http')
  .get('http://${address}:${port}/', (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(b.trim())); })
  .on('error', (e) => console.log(e.code)).setTimeout(3000, function () { this.destroy(); });`;
const FETCH = fetchScript(UPLINK.hostAddress, 8081);

const FORWARDS = [
  { protocol: 'tcp', hostPort: 8081, guestPort: 80, inForce: true },
  { protocol: 'tcp', hostPort: 8083, guestPort: 80, hostAddress: '127.0.0.1', inForce: true },
];
/** podman hands its port mappings over in no fixed order: they are compared by host port. */
const byHostPort = (forwards: unknown[] | undefined) =>
  [...(forwards ?? [])].sort((a, b) => (a as { hostPort: number }).hostPort - (b as { hostPort: number }).hostPort);

const SESSION = `set -e
mount -t tmpfs guestnet-test /run
mount -t tmpfs guestnet-test /var/lib
mount -t tmpfs guestnet-test /sys/fs/cgroup
mkdir -p /run/netns
P="podman --root $D/root --runroot $D/runroot --tmpdir $D/tmp --storage-driver vfs"
$P import $D/rootfs.tar localhost/gn-busybox >/dev/null
$P run -d --cgroups=disabled --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --name ${NAME} \\
  --network gn-test -p 8081:80 -p 127.0.0.1:8083:80 localhost/gn-busybox /bin/busybox httpd -f -p 80 -h /www >/dev/null
echo running
read _ || true
$P network reload ${NAME} >/dev/null
echo reloaded
read _ || true
$P rm -f -t 0 ${NAME} >/dev/null
echo removed
`;

describe('podman run -p and network reload through the guestnet CNI plugin (podman 4, CNI backend)', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let pristine: string;
  let session: ResultPromise | undefined;
  let output = '';
  const next = async (line: string) => {
    for (let i = 0; i < 600 && !output.includes(line); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(output.includes(line), `podman did not get to '${line}': ${output}`);
  };

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
    const dir = join(sandbox.dir, 'podman');
    const rootfs = join(dir, 'rootfs');
    await mkdir(join(dir, 'net.d'), { recursive: true });
    await mkdir(join(dir, 'bin'), { recursive: true });
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await mkdir(join(rootfs, 'www'), { recursive: true });
    // podman runs DEL from a cleanup process that conmon starts, without podman's environment:
    // the plugin's own wrapper names the sandbox's state dir (by default it is /run/guestnet/state),
    // and puts the node under test first on PATH for the plugin's launcher.
    await writeFile(
      join(dir, 'bin', 'guestnet'),
      `#!/bin/sh\nPATH=${dirname(NODE)}:$PATH GUESTNET_STATE_DIR=${sandbox.stateDir} exec ${PLUGIN} "$@"\n`,
    );
    await chmod(join(dir, 'bin', 'guestnet'), 0o755);
    // portMappings alone, without the ips capability: podman's reload then hands the plugin no ports.
    const network = {
      cniVersion: '1.0.0',
      name: 'gn-test',
      plugins: [{ type: 'guestnet', capabilities: { portMappings: true }, dns: { nameservers: [DNS] } }],
    };
    await writeFile(join(dir, 'net.d', 'gn-test.conflist'), JSON.stringify(network));
    await writeFile(
      join(dir, 'containers.conf'),
      `[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["${join(dir, 'bin')}"]\nnetwork_config_dir = "${join(dir, 'net.d')}"\n` +
        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n',
    );
    await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
    await writeFile(join(rootfs, 'www', 'index.html'), 'container\n');
    await execa('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
    const env = { D: dir, CONTAINERS_CONF: join(dir, 'containers.conf'), PATH: process.env.PATH ?? '' };
    session = execa('ip', ['netns', 'exec', sandbox.hostNs, 'sh', '-c', SESSION], { env, extendEnv: false, reject: false, stdin: 'pipe' });
    session.stdout?.on('data', (chunk: Buffer) => (output += chunk));
    session.stderr?.on('data', (chunk: Buffer) => (output += chunk));
  });
  after(async () => {
    if (session?.stdin?.writableEnded === false) session.stdin.end('\n\n');
    await Promise.race([session, new Promise((r) => setTimeout(r, 20_000))]);
    // A failed run must not leave the container's processes behind.
    await execa('pkill', ['-9', '-f', NAME], { reject: false });
    await sandbox?.destroy();
  });

  it('runs the container attached by guestnet, and shows it in status with its published port', async () => {
    await next('running');
    const [guest] = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as Array<{
      id: string;
      state: string;
      forwards: unknown[];
    }>;
    assert.match(guest?.id ?? '', /^cni-[0-9a-f]{64}-eth0$/);
    assert.equal(guest?.state, 'alive');
    assert.deepEqual(byHostPort(guest?.forwards), FORWARDS);
  });

  it('serves the published port from the uplink side and from the host', async () => {
    assert.equal((await sandbox.inet([NODE, '-e', FETCH])).stdout.trim(), 'container');
    assert.equal((await sandbox.host([NODE, '-e', FETCH])).stdout.trim(), 'container');
  });

  it('serves both ports at 127.0.0.1 from the host, and the one bound to 127.0.0.1 nowhere else', async () => {
    assert.equal((await sandbox.host([NODE, '-e', fetchScript('127.0.0.1', 8081)])).stdout.trim(), 'container');
    assert.equal((await sandbox.host([NODE, '-e', fetchScript('127.0.0.1', 8083)])).stdout.trim(), 'container');
    assert.notEqual((await sandbox.inet([NODE, '-e', fetchScript(UPLINK.hostAddress, 8083)])).stdout.trim(), 'container');
  });

  // The reload runs DEL, then an ADD whose config has lost the portMappings capability.
  it('keeps the published port across podman network reload: it still answers from the uplink side', async () => {
    session?.stdin?.write('\n');
    await next('reloaded');
    const [guest] = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as Array<{ forwards: unknown[] }>;
    assert.deepEqual(byHostPort(guest?.forwards), FORWARDS);
    assert.equal((await sandbox.inet([NODE, '-e', FETCH])).stdout.trim(), 'container');
    assert.equal((await sandbox.host([NODE, '-e', fetchScript('127.0.0.1', 8083)])).stdout.trim(), 'container');
  });

  it('podman rm leaves the host exactly as it was', async () => {
    session?.stdin?.end('\n');
    await next('removed');
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, [], output);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
