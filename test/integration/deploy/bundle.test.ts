import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { NODE, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BUNDLES = ['host-agent.cjs', 'guest-agent.cjs', 'guestnet'];

describe('npm run bundle: single files that run with no node_modules beside them', function () {
  this.timeout(120_000);
  let dir: string;
  let sandbox: Sandbox;
  const bundle = (name: string) => join(dir, name);

  before(async () => {
    const built = await execa(NODE, [join(ROOT, 'scripts/bundle.mjs')]);
    for (const name of BUNDLES) assert.match(built.stdout, new RegExp(`deploy/dist/${name.replace('.', '\\.')}\\s+\\d+ KiB`));
    // Far from the repo: nothing can be resolved from a node_modules.
    dir = await mkdtemp(join(tmpdir(), 'guestnet-bundle-'));
    for (const name of BUNDLES) await copyFile(join(ROOT, 'deploy/dist', name), bundle(name));
    sandbox = await Sandbox.create();
  });
  after(async () => {
    await sandbox?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('each is one file of a few hundred KiB', async () => {
    for (const name of BUNDLES) {
      const size = (await stat(bundle(name))).size;
      assert.ok(size > 50_000 && size < 2_000_000, `${name}: ${size} bytes`);
    }
  });

  it('--help works for both agents', async () => {
    for (const name of ['host-agent.cjs', 'guest-agent.cjs']) {
      const help = await execa(NODE, [bundle(name), '--help'], { cwd: dir });
      assert.match(help.stdout, /^Usage: (host|guest)-agent/);
    }
  });

  it('the bundled agents attach a guest that gets online, and detach it', async () => {
    const guest = await sandbox.startGuest({ agentScript: bundle('guest-agent.cjs') });
    const attach = await sandbox.host([
      NODE,
      bundle('host-agent.cjs'),
      'attach',
      String(guest.pid),
      '--socket',
      sandbox.socket,
      '--state-dir',
      sandbox.stateDir,
    ]);
    assert.equal(attach.exitCode, 0, attach.stderr);
    assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
    const detach = await sandbox.host([NODE, bundle('host-agent.cjs'), 'detach', String(guest.pid), '--state-dir', sandbox.stateDir]);
    assert.equal(detach.exitCode, 0, detach.stderr);
  });

  // Node 20 is the oldest the bundles claim. Debian 12's own node is 18: a preload makes this
  // node report 18, as the first thing each bundle checks.
  it('on a node older than 20, each bundle says so in one line, before anything else runs', async () => {
    const preload = join(dir, 'node18.cjs');
    await writeFile(
      preload,
      "Object.defineProperty(process.versions, 'node', { value: '18.20.4' });\nObject.defineProperty(process, 'version', { value: 'v18.20.4' });\n",
    );
    for (const agent of ['host-agent', 'guest-agent']) {
      const old = await execa(NODE, ['-r', preload, bundle(`${agent}.cjs`), '--help'], { reject: false });
      assert.deepEqual([old.exitCode, old.stdout, old.stderr], [5, '', `${agent}: needs Node.js 20 or later; this is v18.20.4`]);
    }
    const cni = await execa(NODE, ['-r', preload, bundle('guestnet')], { reject: false, env: { CNI_COMMAND: 'VERSION' } });
    assert.equal(cni.exitCode, 1);
    assert.deepEqual(JSON.parse(cni.stdout), {
      cniVersion: '1.0.0',
      code: 105,
      msg: 'guestnet needs Node.js 20 or later; this is v18.20.4',
    });
  });

  it('the bundled CNI plugin answers VERSION', async () => {
    // Its #! line runs the node on PATH: the one under test.
    const version = await execa(bundle('guestnet'), [], {
      env: { CNI_COMMAND: 'VERSION', PATH: `${dirname(NODE)}:${process.env.PATH}` },
      input: '{"cniVersion":"1.1.0"}',
    });
    assert.equal(JSON.parse(version.stdout).cniVersion, '1.1.0');
  });
});
