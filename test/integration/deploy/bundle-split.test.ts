import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { runPlugin } from '../../fixtures/cni.js';
import { type Daemon, DNS, NODE, Sandbox, SERVER, tcpClientScript, UPLINK } from '../../fixtures/sandbox.js';

// Issue 28: a client the daemon serves loads no more code than it takes to
// ask. The bundles hold what runs when no daemon serves in an engine file of
// their own: a copy of the bundles with the engine files taken out still
// serves every such client through the daemon, and says in one line what it
// lacks when it has to do the work itself. Beside it, a whole copy in an empty
// directory does that work: the CLI's attach and detach and the CNI plugin's
// ADD and DEL, with no daemon.

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DIST = join(ROOT, 'deploy/dist');
const ENGINE = /-engine-[0-9a-f]{16}\.cjs$/;
const CONFIG = { cniVersion: '1.1.0', name: 'guestnet-test', type: 'guestnet', dns: { nameservers: [DNS] } };

describe('npm run bundle: what runs when no daemon serves is a file of its own', function () {
  this.timeout(180_000);
  let whole: string;
  let thin: string;
  let engines: string[];
  let sandbox: Sandbox;
  let container: string;
  const containerId = 'cafe0123456789abcdef';

  before(async () => {
    await execa(NODE, [join(ROOT, 'scripts/bundle.mjs')]);
    const copies = await mkdtemp(join(tmpdir(), 'guestnet-split-'));
    whole = join(copies, 'whole');
    thin = join(copies, 'thin');
    await mkdir(whole);
    await mkdir(thin);
    const names = (await readdir(DIST)).filter((name) => name !== 'package.json');
    engines = names.filter((name) => ENGINE.test(name));
    for (const name of names) {
      await copyFile(join(DIST, name), join(whole, name));
      if (!ENGINE.test(name)) await copyFile(join(DIST, name), join(thin, name));
    }
    sandbox = await Sandbox.create();
    container = sandbox.hostNs.replace('gn-host', 'gn-ctr');
    await execa('ip', ['netns', 'add', container]);
  });
  after(async () => {
    if (container) await execa('ip', ['netns', 'del', container], { reject: false });
    await sandbox?.destroy();
    if (whole) await rm(join(whole, '..'), { recursive: true, force: true });
  });

  const cni = (command: string, plugin: string, env: Record<string, string> = {}) =>
    runPlugin({ sandbox, container, containerId }, command, CONFIG, env, join(plugin, 'guestnet'));
  const online = async () =>
    (
      await execa('ip', ['netns', 'exec', container, NODE, '-e', tcpClientScript(SERVER.address, SERVER.port)], { reject: false })
    ).stdout.trim();

  it('has an engine file for the host agent and one for the CNI plugin', () => {
    assert.deepEqual(
      engines.map((name) => name.replace(/-[0-9a-f]{16}\.cjs$/, '')),
      ['guestnet-engine', 'host-agent-engine'],
    );
  });

  // What a served client loads is every file but the engine (and winston, on a log line): each byte of it is compiled
  // at every start. So it holds no code only the engine runs: not the command runner (it sets LC_ALL for every
  // command), and, in the host agent's files, not the CNI plugin's request parsing (it knows the spec's keys).
  it("a served client's files hold no command runner, the host agent's no CNI request code, --help's no setting check", async () => {
    const served = (await readdir(DIST)).filter((name) => name !== 'package.json' && !ENGINE.test(name) && !/winston/.test(name));
    const holding = async (text: string, names: string[]) => {
      const found: string[] = [];
      for (const name of names) if ((await readFile(join(DIST, name), 'utf8')).includes(text)) found.push(name);
      return found;
    };
    const hostAgent = served.filter((name) => name.startsWith('host-agent'));
    assert.deepEqual(
      await holding(
        'LC_ALL',
        served.filter((name) => name !== 'guest-agent.cjs'),
      ),
      [],
    );
    assert.deepEqual(await holding('cni.dev/valid-attachments', hostAgent), []);
    // --help loads the entry and its shared file: they hold the settings' flags and help, not their checks.
    const helpLoads = hostAgent.filter((name) => name === 'host-agent.cjs' || name.startsWith('host-agent-shared-'));
    assert.equal(helpLoads.length, 2);
    assert.deepEqual(await holding('must be an absolute path of at most', helpLoads), []);
    assert.deepEqual(await holding('is not a usable address of the pool', helpLoads), []);
  });

  describe('with a daemon serving the state dir', () => {
    let daemon: Daemon;
    before(async () => {
      daemon = await sandbox.startDaemon([], join(whole, 'host-agent.cjs'));
    });
    after(async () => daemon?.stop());

    it('the CLI without the engine attaches, forwards, lists and detaches a guest through the daemon', async () => {
      const cli = join(thin, 'host-agent.cjs');
      assert.match((await execa(NODE, [cli, '--help'])).stdout, /^Usage: host-agent/);
      const guest = await sandbox.startGuest({ agentScript: join(whole, 'guest-agent.cjs') });
      const attach = await sandbox.hostAgent(['attach', String(guest.pid)], cli);
      assert.equal(attach.exitCode, 0, attach.stderr);
      assert.match(attach.stdout, /^attached pid \d+\n {2}host {2}\S+ \S+ peer \S+, uplink/);
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
      const forward = await sandbox.hostAgent(['forward', String(guest.pid), '5555:5555'], cli);
      assert.equal(forward.exitCode, 0, forward.stderr);
      const status = await sandbox.hostAgent(['status', '--json'], cli);
      assert.equal(status.exitCode, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as { guests: Array<{ pid: number }> }).guests[0]?.pid, guest.pid);
      const detach = await sandbox.hostAgent(['detach', String(guest.pid)], cli);
      assert.equal(detach.exitCode, 0, detach.stderr);
      await guest.kill();
      // The daemon did each: its log says so.
      for (const line of ['"attached"', '"forwarding to"', '"detached"'])
        assert.ok(daemon.output().includes(line), `${line}: ${daemon.output()}`);
    });

    it('the CNI plugin without the engine has ADD and DEL done by the daemon', async () => {
      const add = await cni('ADD', thin);
      assert.equal(add.exitCode, 0, add.stdout);
      assert.equal(await online(), UPLINK.hostAddress);
      const del = await cni('DEL', thin);
      assert.equal(del.exitCode, 0, del.stdout);
      assert.match(daemon.output(), /"served CNI ADD"/);
      assert.match(daemon.output(), /"served CNI DEL"/);
    });
  });

  describe('with no daemon', () => {
    it('the copy without the engine says in one line which file it lacks', async () => {
      const status = await sandbox.hostAgent(['status'], join(thin, 'host-agent.cjs'));
      assert.equal(status.exitCode, 1);
      assert.match(
        status.stderr,
        /^host-agent: host-agent-engine-[0-9a-f]{16}\.cjs is missing from \S+: install every file of deploy\/dist together$/,
      );
      const del = await cni('DEL', thin);
      assert.equal(del.exitCode, 1);
      assert.match(
        (del.json as { msg: string }).msg,
        /^guestnet-engine-[0-9a-f]{16}\.cjs is missing from \S+: install every file of deploy\/dist together$/,
      );
    });

    it('a whole copy in an empty directory attaches and detaches with the CLI, and does ADD and DEL as the CNI plugin', async () => {
      const cli = join(whole, 'host-agent.cjs');
      const guest = await sandbox.startGuest({ agentScript: join(whole, 'guest-agent.cjs') });
      const attach = await sandbox.hostAgent(['attach', String(guest.pid)], cli);
      assert.equal(attach.exitCode, 0, attach.stderr);
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
      const detach = await sandbox.hostAgent(['detach', String(guest.pid)], cli);
      assert.equal(detach.exitCode, 0, detach.stderr);
      await guest.kill();
      const add = await cni('ADD', whole);
      assert.equal(add.exitCode, 0, add.stdout);
      assert.equal(await online(), UPLINK.hostAddress);
      const del = await cni('DEL', whole);
      assert.equal(del.exitCode, 0, del.stdout);
    });
  });
});
