import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GuestStatus } from '@guestnet/host-agent';
import { execa } from 'execa';
import { HOST_AGENT, NODE, Sandbox, SERVER, SETTLE_GUARD_MS, tcpClientScript, UPLINK } from '../../fixtures/sandbox.js';

// deploy/lxc/guestnet-dhcp.conf (issue 29): a stock busybox container with no
// guest agent. The start-host hook attaches it as a dhcp guest (eth0, through
// the daemon), and the udhcpc the busybox template's rcS starts gets its
// lease, default route and DNS from the daemon's DHCP server.

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const LXC = join(ROOT, 'deploy/lxc');
const GATEWAY = '172.17.3.2';

describe('deploy/lxc: guestnet-dhcp.conf, a busybox container with no agent online by its own udhcpc', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let lxcpath: string;
  let pristine: string;
  let name: string;
  // LXC's monitor listens on an abstract socket, which belongs to a netns: every lxc-* runs in the sandbox host's.
  const lxc = (tool: string, ...args: string[]) => sandbox.host(['env', ...hookEnv(), tool, '-P', lxcpath, '-n', name, ...args]);
  const hookEnv = () => [`GUESTNET_HOST_AGENT=${NODE} ${HOST_AGENT}`, `GUESTNET_STATE_DIR=${sandbox.stateDir}`];
  const status = async () => JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as GuestStatus[];

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
    await sandbox.startDaemon();
    lxcpath = await mkdtemp(join(tmpdir(), 'guestnet-lxc-'));
    name = sandbox.hostNs.replace('gn-host-', 'gnd-');
    await execa('lxc-create', ['-P', lxcpath, '-n', name, '-t', 'busybox']);
    const config = join(lxcpath, name, 'config');
    // The template's own network (a veth on lxcbr0) and AppArmor profile give way to the sample's.
    const template = (await readFile(config, 'utf8')).split('\n').filter((line) => !/^lxc\.(net|apparmor)\./.test(line));
    const sample = (await readFile(join(LXC, 'guestnet-dhcp.conf'), 'utf8')).replaceAll('/usr/share/guestnet/lxc', LXC);
    await writeFile(config, [...template, 'lxc.apparmor.profile = unconfined', sample, ''].join('\n'));
  });
  after(async () => {
    if (lxcpath) {
      await lxc('lxc-stop', '-k').catch(() => {});
      await rm(lxcpath, { recursive: true, force: true });
    }
    await sandbox?.destroy();
  });

  it("lxc-start attaches it as a dhcp guest, and the template's udhcpc takes its lease, route and DNS", async () => {
    const started = await lxc('lxc-start', '-d', '-l', 'INFO', '-o', join(lxcpath, 'lxc.log'));
    assert.equal(started.exitCode, 0, started.stderr);
    let guests: GuestStatus[] = [];
    for (let end = Date.now() + SETTLE_GUARD_MS * 2; Date.now() < end && guests[0]?.dhcp?.state !== 'bound'; ) {
      await new Promise((r) => setTimeout(r, 100));
      guests = await status();
    }
    const log = await readFile(join(lxcpath, 'lxc.log'), 'utf8').catch(() => 'no lxc log');
    assert.equal(guests[0]?.dhcp?.state, 'bound', `${JSON.stringify(guests)}\n${log}`);
    assert.deepEqual([guests[0]?.guestConfig, guests[0]?.guestIf, guests[0]?.agent], ['dhcp', 'eth0', 'none']);
    const pid = Number((await lxc('lxc-info', '-p', '-H')).stdout.trim());
    assert.equal(guests[0]?.pid, pid, 'the hook attached another pid than the container init');
    const inside = (argv: string[]) => execa('nsenter', [`--net=/proc/${pid}/ns/net`, ...argv], { reject: false });
    let route = '';
    // udhcpc's script sets the route just after the ACK the daemon counted.
    for (let end = Date.now() + SETTLE_GUARD_MS; Date.now() < end && route === ''; await new Promise((r) => setTimeout(r, 50)))
      route = (await inside(['ip', '-4', 'route', 'show', 'default'])).stdout.trim();
    assert.match(route, new RegExp(`^default via ${GATEWAY} dev eth0`));
    const resolvConf = await readFile(`/proc/${pid}/root/etc/resolv.conf`, 'utf8');
    assert.match(resolvConf, new RegExp(`^nameserver ${GATEWAY.replace(/\./g, '\\.')}$`, 'm'));
    const fetched = await inside([NODE, '-e', tcpClientScript(SERVER.address, SERVER.port)]);
    assert.equal(fetched.stdout.trim(), UPLINK.hostAddress, fetched.stderr);
  });

  it('lxc-stop runs the stop hook, which detaches: the host is as it was', async () => {
    const stopped = await lxc('lxc-stop', '-k');
    assert.equal(stopped.exitCode, 0, stopped.stderr);
    assert.deepEqual(await status(), []);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
