import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { lxcInittabLine } from '../../fixtures/deploy-lines.js';
import { HOST_AGENT, NODE, Sandbox, SERVER, tcpClientScript, UPLINK } from '../../fixtures/sandbox.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const LXC = join(ROOT, 'deploy/lxc');

describe("deploy/lxc: a real LXC container (Debian's lxc, a busybox rootfs) networked by the hooks", function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let lxcpath: string;
  let pristine: string;
  let name: string;
  // LXC's monitor listens on an abstract socket, which belongs to a netns: every lxc-* runs in the sandbox host's.
  const lxc = (tool: string, ...args: string[]) => sandbox.host(['env', ...hookEnv(), tool, '-P', lxcpath, '-n', name, ...args]);
  const hookEnv = () => [`GUESTNET_HOST_AGENT=${NODE} ${HOST_AGENT}`, `GUESTNET_STATE_DIR=${sandbox.stateDir}`];

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
    await sandbox.startDaemon();
    await execa(NODE, [join(ROOT, 'scripts/bundle.mjs')]);
    lxcpath = await mkdtemp(join(tmpdir(), 'guestnet-lxc-'));
    name = sandbox.hostNs.replace('gn-host-', 'gnc-');
    await execa('lxc-create', ['-P', lxcpath, '-n', name, '-t', 'busybox']);
    const config = join(lxcpath, name, 'config');
    // The template's own network (a veth on lxcbr0) and AppArmor profile give way to the sample's.
    const template = (await readFile(config, 'utf8')).split('\n').filter((line) => !/^lxc\.(net|apparmor)\./.test(line));
    const sample = (await readFile(join(LXC, 'guestnet.conf'), 'utf8'))
      .replaceAll('/usr/share/guestnet/lxc', LXC)
      .replaceAll('/run/guestnet/guest ', `${dirname(sandbox.socket)} `);
    await writeFile(
      config,
      [
        ...template,
        'lxc.apparmor.profile = unconfined',
        sample,
        // The node under test, iproute2 and the bundle from the host, read-only; the template already binds /lib and /usr/lib.
        `lxc.mount.entry = ${NODE} usr/local/bin/node none ro,bind,create=file 0 0`,
        'lxc.mount.entry = /usr/sbin/ip usr/local/sbin/ip none ro,bind,create=file 0 0',
        `lxc.mount.entry = ${join(ROOT, 'deploy/dist')} opt/guestnet none ro,bind,create=dir 0 0`,
        '',
      ].join('\n'),
    );
    // The guest's init starts the agent, as the sample config says.
    await appendFile(join(lxcpath, name, 'rootfs/etc/inittab'), `${await lxcInittabLine()}\n`);
  });
  after(async () => {
    if (lxcpath) {
      await lxc('lxc-stop', '-k').catch(() => {});
      await rm(lxcpath, { recursive: true, force: true });
    }
    await sandbox?.destroy();
  });

  it('lxc-start attaches the container through the start-host hook, and its agent gets it online', async () => {
    const started = await lxc('lxc-start', '-d', '-l', 'INFO', '-o', join(lxcpath, 'lxc.log'));
    assert.equal(started.exitCode, 0, started.stderr);
    let guests: Array<{ agent: string; pid: number }> = [];
    for (let i = 0; i < 150 && guests[0]?.agent !== 'connected'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      guests = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests;
    }
    assert.equal(guests[0]?.agent, 'connected', await readFile(join(lxcpath, 'lxc.log'), 'utf8').catch(() => 'no lxc log'));
    const pid = Number((await lxc('lxc-info', '-p', '-H')).stdout.trim());
    assert.equal(guests[0]?.pid, pid, 'the hook attached another pid than the container init');
    const fetched = await execa('nsenter', [`--net=/proc/${pid}/ns/net`, NODE, '-e', tcpClientScript(SERVER.address, SERVER.port)], {
      reject: false,
    });
    assert.equal(fetched.stdout.trim(), UPLINK.hostAddress, fetched.stderr);
  });

  it('lxc-stop runs the stop hook, which detaches: the host is as it was', async () => {
    const stopped = await lxc('lxc-stop', '-k');
    assert.equal(stopped.exitCode, 0, stopped.stderr);
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
    assert.deepEqual(status.guests, []);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
