import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemonListening } from '@guestnet/host-agent';
import { execa } from 'execa';
import { execStarts, rcService } from '../../fixtures/deploy-lines.js';
import { DNS, NODE, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

// Each line deploy/ starts an agent with, read from its file and run on the
// node running this test (npm test runs it on every supported release): a
// daemon from each host line, and a guest agent from the guest line that it
// brings online. Every absolute path of a line lies under a scratch root laid
// out as the install steps lay out the device, with this node as its node.
// The LXC container's inittab line and hooks run in lxc.test.ts, in a real
// container.

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DIST = join(ROOT, 'deploy/dist');

/** Android's logwrapper runs its command with the output going to logcat: here, to the test. */
const LOGWRAPPER = '#!/bin/sh\nexec "$@"\n';

/** argv with each absolute path moved under `root`. */
const under = (root: string, argv: string[]) => argv.map((word) => (word.startsWith('/') ? join(root, word) : word));
const flagValue = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1] as string;

/** Each agent writes JSON log lines and nothing else: a line that is not one (a node warning) fails. */
function assertOnlyLogLines(output: string, who: string): void {
  for (const line of output.split('\n').filter(Boolean)) {
    assert.doesNotThrow(() => JSON.parse(line), `${who} wrote a line that is not a log line: ${line}`);
  }
}

/** Makes `path` (inside `root`) a symlink to `target`, with its directories. */
async function link(root: string, path: string, target: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await symlink(target, join(root, path));
}

/** Where install.sh puts Android's files: node, a symlink named after the service, the bundle, logwrapper. */
async function installAndroid(root: string, service: string, bundle: string): Promise<void> {
  await link(root, '/data/local/guestnet/node', NODE);
  await link(root, `/data/local/guestnet/${service}`, 'node');
  await link(root, `/data/local/guestnet/${bundle}`, join(DIST, bundle));
  await mkdir(join(root, '/system/bin'), { recursive: true });
  await writeFile(join(root, '/system/bin/logwrapper'), LOGWRAPPER);
  await chmod(join(root, '/system/bin/logwrapper'), 0o755);
}

describe(`deploy/: every host and guest command line runs on this node (${process.version})`, function () {
  this.timeout(120_000);
  let sandbox: Sandbox;

  before(async () => {
    await execa(NODE, [join(ROOT, 'scripts/bundle.mjs')]);
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  /** Starts a host line in the sandbox's host netns; resolves once it serves its state dir. */
  async function serve(argv: string[]): Promise<{ stop: () => Promise<void> }> {
    const child = sandbox.serveIn(sandbox.hostNs, argv);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk));
    const stateDir = flagValue(argv, '--state-dir');
    for (let i = 0; i < 400 && !(await daemonListening(stateDir)); i++) {
      if (child.exitCode !== null) assert.fail(`${argv.join(' ')}\nexited ${child.exitCode}: ${output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return {
      stop: async () => {
        child.kill('SIGTERM');
        assert.equal((await child).exitCode, 0, output);
        assertOnlyLogLines(output, 'the daemon');
      },
    };
  }

  /**
   * The Android guest service in a new guest, its root `guestRoot`, whose /run/guestnet is the host's
   * socket dir (the launcher's bind mount); attached by the daemon and online, then detached.
   */
  async function guestOnline(guestRoot: string, socketDir: string, stateDir: string): Promise<void> {
    await installAndroid(guestRoot, 'guestnet-guest', 'guest-agent.cjs');
    await link(guestRoot, '/run/guestnet', socketDir);
    await mkdir(join(guestRoot, '/data/local/tmp'), { recursive: true });
    // The .rc makes /data/misc/ethernet; the agent writes EthernetService's ipconfig.txt there,
    // at a path the line leaves to its default.
    const ipconfig = join(guestRoot, '/data/misc/ethernet/ipconfig.txt');
    await mkdir(dirname(ipconfig), { recursive: true });
    const guest = await sandbox.startGuest({ agent: false });
    const agent = guest.spawn([...under(guestRoot, await rcService('guestnet-guest.rc')), '--ipconfig', ipconfig]);
    const cli = join(DIST, 'host-agent.cjs');
    const attach = await sandbox.host([
      NODE,
      cli,
      'attach',
      String(guest.pid),
      '--state-dir',
      stateDir,
      '--guest-name',
      'eth0',
      '--dns',
      DNS,
    ]);
    assert.equal(attach.exitCode, 0, attach.stderr);
    assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
    assert.match(
      await readFile(ipconfig, 'latin1'),
      new RegExp(DNS.replaceAll('.', '\\.')),
      'the guest line wrote no DNS for EthernetService',
    );
    const detach = await sandbox.host([NODE, cli, 'detach', String(guest.pid), '--state-dir', stateDir]);
    assert.equal(detach.exitCode, 0, detach.stderr);
    await guest.kill();
    const { stdout, stderr } = await agent;
    assertOnlyLogLines(`${stdout}\n${stderr}`, 'the guest agent');
  }

  it("systemd's ExecStart serves, and the Android guest service's agent gets online through it", async () => {
    const host = join(sandbox.dir, 'systemd-host');
    const [execStart, ...more] = await execStarts();
    assert.ok(execStart && more.length === 0, 'one ExecStart');
    await link(host, '/usr/bin/node', NODE);
    await link(host, '/opt/guestnet/host-agent.cjs', join(DIST, 'host-agent.cjs'));
    // RuntimeDirectory=guestnet, RuntimeDirectoryMode=0700.
    await mkdir(join(host, '/run/guestnet'), { recursive: true, mode: 0o700 });
    const argv = under(host, execStart);
    const daemon = await serve(argv);
    await guestOnline(join(sandbox.dir, 'systemd-guest'), dirname(flagValue(argv, '--socket')), flagValue(argv, '--state-dir'));
    await daemon.stop();
  });

  it("Android's host service serves, and the Android guest service's agent gets online through it", async () => {
    const device = join(sandbox.dir, 'android-host');
    await installAndroid(device, 'guestnet-host', 'host-agent.cjs');
    // install.sh: mkdir -p run, chmod 0700 run.
    await mkdir(join(device, '/data/local/guestnet/run'), { recursive: true, mode: 0o700 });
    const argv = under(device, await rcService('guestnet-host.rc'));
    const daemon = await serve(argv);
    await guestOnline(join(sandbox.dir, 'android-guest'), dirname(flagValue(argv, '--socket')), flagValue(argv, '--state-dir'));
    await daemon.stop();
  });
});
