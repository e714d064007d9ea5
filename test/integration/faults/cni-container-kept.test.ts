import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runPlugin } from '../../fixtures/cni.js';
import { DNS, Sandbox } from '../../fixtures/sandbox.js';

// The process that makes a CNI container's end in its netns configures it
// too, before the host end is set up (exec/veth-steps.ts): an ADD that fails
// after that must leave the container as it found it, its own default route
// and its lo included; and a netns whose rules leave main out (an Android
// netd's) still gets a working configuration.

const CONFIG = { cniVersion: '1.1.0', name: 'guestnet-test', type: 'guestnet', dns: { nameservers: [DNS] } };

describe('faults: a CNI container is left as it was by an ADD that fails after configuring it', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let container: string;
  let shimDir: string;
  const inContainer = (script: string) => execa('ip', ['netns', 'exec', container, 'sh', '-c', script], { reject: false });
  const plugin = (command: string, containerId: string, env: Record<string, string> = {}) =>
    runPlugin({ sandbox, container, containerId }, command, CONFIG, env);

  before(async () => {
    sandbox = await Sandbox.create();
    container = sandbox.hostNs.replace('gn-host', 'gn-ctr');
    await execa('ip', ['netns', 'add', container]);
    // An `ip` first on PATH that fails the host's batch that sets up the host end, and runs everything else.
    shimDir = await mkdtemp(join(tmpdir(), 'guestnet-failing-ip-'));
    const realIp = (await execa('sh', ['-c', 'command -v ip'])).stdout.trim();
    await writeFile(
      join(shimDir, 'ip'),
      `#!/bin/sh
if [ "$*" = "-batch -" ]; then
  input=$(cat)
  case "$input" in *" peer 172.17.3."*) echo "RTNETLINK answers: Operation not permitted" >&2; exit 1 ;; esac
  printf '%s\\n' "$input" | exec ${realIp} "$@"
fi
exec ${realIp} "$@"
`,
    );
    await chmod(join(shimDir, 'ip'), 0o755);
  });
  after(async () => {
    await execa('ip', ['netns', 'del', container], { reject: false });
    await rm(shimDir, { recursive: true, force: true });
    await sandbox?.destroy();
  });

  it('keeps the default route the container had, and its lo down, when the host end cannot be set up', async () => {
    const pristine = await sandbox.hostSnapshot();
    await inContainer(
      'ip link add own0 type veth peer name own1 && ip link set own1 up && ip address add 10.9.9.2/24 dev own0 && ' +
        'ip link set own0 up && ip route add default via 10.9.9.1',
    );
    const before = (await inContainer('ip route; ip -br link')).stdout;
    const run = await plugin('ADD', 'kept0123456789ab', { PATH: `${shimDir}:${process.env.PATH}` });
    assert.notEqual(run.exitCode, 0, run.stdout);
    assert.equal((await inContainer('ip route; ip -br link')).stdout, before);
    assert.equal(await sandbox.hostSnapshot(), pristine);
    await inContainer('ip link del own0');
  });

  it('configures a container whose rules leave main out, adding the rule, and DEL leaves the host as it was', async () => {
    const pristine = await sandbox.hostSnapshot();
    await inContainer('ip rule flush && ip rule add priority 32000 unreachable');
    const add = await plugin('ADD', 'nomain456789abcd');
    assert.equal(add.exitCode, 0, add.stdout);
    assert.match((await inContainer('ip rule')).stdout, /lookup main/);
    assert.match((await inContainer('ip route show default')).stdout, /^default via 172\.17\.3\.2 dev eth0/);
    assert.equal((await plugin('DEL', 'nomain456789abcd')).exitCode, 0);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
