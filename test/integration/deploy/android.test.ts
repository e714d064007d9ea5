import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfigFile, resolveSettings } from '@guestnet/host-agent';
import { execa } from 'execa';
import { rcService as serviceArgv } from '../../fixtures/deploy-lines.js';
import { NODE, NODE_FLAGS } from '../../fixtures/sandbox.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const ANDROID = join(ROOT, 'deploy/android');

// Stands in for adb: records every call, answers like a userdebug device.
const FAKE_ADB = `#!/bin/sh
echo "$*" >> "$ADB_LOG"
`;

describe('deploy/android: init services and install.sh over adb', function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    // Built afresh: install.sh must push the files of this build.
    await execa(NODE, [join(ROOT, 'scripts/bundle.mjs')]);
    dir = await mkdtemp(join(tmpdir(), 'guestnet-android-'));
    await writeFile(join(dir, 'adb'), FAKE_ADB);
    await chmod(join(dir, 'adb'), 0o755);
    await writeFile(join(dir, 'node-arm64'), 'not really node');
  });
  after(async () => dir && rm(dir, { recursive: true, force: true }));

  for (const [rc, bundle, verb] of [
    ['guestnet-host.rc', 'host-agent.cjs', 'serve'],
    ['guestnet-guest.rc', 'guest-agent.cjs', 'run'],
  ] as const) {
    it(`${rc} runs ${bundle} ${verb} through logwrapper, with flags the agent knows`, async () => {
      const argv = await serviceArgv(rc);
      // logwrapper tags lines with the binary's name, so node runs as a symlink named after the service.
      assert.deepEqual(argv.slice(0, 2), ['/system/bin/logwrapper', `/data/local/guestnet/${rc.replace('.rc', '')}`]);
      const script = argv.indexOf(`/data/local/guestnet/${bundle}`);
      assert.deepEqual(argv.slice(2, script), NODE_FLAGS, 'node flags');
      assert.equal(argv[script + 1], verb);
      const help = (await execa(NODE, [join(ROOT, 'deploy/dist', bundle), verb, '--help'])).stdout;
      for (const flag of argv.slice(script).filter((a) => a.startsWith('--')))
        assert.ok(help.includes(`${flag} `), `${rc}: ${bundle} ${verb} has no ${flag}`);
    });
  }

  it('install.sh pushes the node binary, both bundles and the host service, then says how to start and check', async () => {
    const log = join(dir, 'adb.log');
    const result = await execa(
      join(ANDROID, 'install.sh'),
      ['--node', join(dir, 'node-arm64'), '--serial', 'emulator-5554', '--guest-root', '/data/waydroid/rootfs'],
      {
        env: { PATH: `${dir}:${process.env.PATH}`, ADB_LOG: log },
      },
    );
    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    assert.ok(
      calls.every((c) => c.startsWith('-s emulator-5554 ')),
      'every call names the device',
    );
    const pushes = calls.filter((c) => c.includes(' push ')).map((c) => c.replace('-s emulator-5554 push ', '').split(' ').at(-1));
    assert.deepEqual(pushes, [
      '/data/local/guestnet/node',
      '/data/local/guestnet/',
      '/data/local/guestnet/host.json',
      '/system/etc/init/guestnet-host.rc',
      '/data/waydroid/rootfs/data/local/guestnet/node',
      '/data/waydroid/rootfs/data/local/guestnet/',
      '/data/waydroid/rootfs/system/etc/init/guestnet-guest.rc',
    ]);
    // The host agent's files (host-agent.cjs requires its shared, engine and winston files from beside it) and the guest agent's.
    const agents = calls.find((c) => c.endsWith(' /data/local/guestnet/'))?.split(' ') ?? [];
    assert.deepEqual(
      agents
        .slice(3, -1)
        .map((path) => basename(path))
        .sort(),
      [...(await readdir(join(ROOT, 'deploy/dist'))).filter((name) => /^host-agent.*\.cjs$/.test(name)), 'guest-agent.cjs'].sort(),
    );
    for (const part of ['shared', 'engine', 'winston'])
      assert.ok(
        agents.some((path) => new RegExp(`host-agent-${part}-[0-9a-f]{16}\\.cjs$`).test(path)),
        `${part}: ${agents.join(' ')}`,
      );
    assert.ok(calls.includes('-s emulator-5554 remount'));
    assert.ok(calls.includes('-s emulator-5554 shell ln -sf node /data/local/guestnet/guestnet-host'));
    assert.match(result.stdout, /^start: +adb shell start guestnet-host/m);
    assert.match(result.stdout, /^check: +adb shell .*host-agent\.cjs status --config \/data\/local\/guestnet\/host\.json$/m);
    assert.match(result.stdout, /^logs: +adb logcat -s guestnet-host$/m);
  });

  it('host.json is a valid host-agent config that matches the service paths', async () => {
    const path = join(ANDROID, 'host.json');
    const settings = resolveSettings(readConfigFile(path, true), {}, path);
    assert.equal(settings.firewall, 'iptables');
    assert.equal(settings.platform, 'android');
    assert.equal(settings.guestName, 'eth0');
    const argv = await serviceArgv('guestnet-host.rc');
    assert.equal(settings.socket, argv[argv.indexOf('--socket') + 1]);
    assert.equal(settings.stateDir, argv[argv.indexOf('--state-dir') + 1]);
  });

  it('install.sh refuses to run without a node binary for the device, in one line', async () => {
    const result = await execa(join(ANDROID, 'install.sh'), [], { reject: false, env: { PATH: `${dir}:${process.env.PATH}` } });
    assert.equal(result.exitCode, 1);
    assert.equal(result.stderr, 'install.sh: --node is required: a Node.js binary for the device (Android ships none)');
  });
});
