import assert from 'node:assert/strict';
import { execa } from 'execa';
import { ExitCode } from '@guestnet/protocol';
import { runPlugin } from '../../fixtures/cni.js';
import { type Daemon, HOST_AGENT, Sandbox } from '../../fixtures/sandbox.js';

const CONTAINER = 'c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789';

/** The real CLI, as a user runs it, without root: what never needs the host. */
const hostAgent = async (args: string[], env: Record<string, string> = {}) => {
  const result = await execa(process.execPath, [HOST_AGENT, ...args], { reject: false, env, timeout: 20_000 });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
};

const widest = (text: string) => Math.max(...text.split('\n').map((line) => line.length));

describe('host-agent command line habits', () => {
  it('a bare host-agent prints its help on stdout and exits 0', async () => {
    const result = await hostAgent([]);
    assert.deepEqual([result.exitCode, result.stderr], [0, '']);
    assert.match(result.stdout, /^Usage: host-agent \[options\] \[command\]/);
    assert.match(result.stdout, /^ {2}attach \[options\] <pid\.\.\.>/m);
  });

  it('--version names the release and the protocol', async () => {
    const result = await hostAgent(['--version']);
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /^host-agent \d+\.\d+\.\d+ \(protocol v3\)$/);
  });

  it('a mistyped command is one line with its suggestion, and one JSON value with --json', async () => {
    const result = await hostAgent(['attac', '4242']);
    assert.equal(result.exitCode, ExitCode.usage);
    assert.equal(result.stderr, "host-agent: unknown command 'attac'; did you mean attach? (see host-agent --help)");
    const json = await hostAgent(['attac', '4242', '--json']);
    assert.equal(json.stdout.split('\n').length, 1);
    assert.equal(JSON.parse(json.stdout).error.message, "unknown command 'attac'; did you mean attach? (see host-agent --help)");
  });

  it('help shows the defaults, and each command has examples; all of it in 80 columns through a pipe', async () => {
    const attach = await hostAgent(['attach', '--help'], { COLUMNS: '200' });
    assert.match(attach.stdout, /--timeout <ms> +how long to wait for the guest agent \(default: 30000\)/);
    for (const verb of ['attach', 'detach', 'forward', 'status', 'doctor', 'serve', 'completion']) {
      const help = await hostAgent(['help', verb], { COLUMNS: '200' });
      assert.equal(help.exitCode, 0);
      assert.match(help.stdout, new RegExp(`\\nExamples:\\n(.*\\n)*  (source <\\()?host-agent ${verb}`), verb);
      assert.ok(widest(help.stdout) <= 80, `${verb}: ${widest(help.stdout)} columns`);
    }
    assert.ok(widest((await hostAgent(['--help'])).stdout) <= 80);
  });
});

describe('host-agent status and doctor on a real host: 80 columns, names and states as they are', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let daemon: Daemon | undefined;
  let container: string;

  before(async () => {
    sandbox = await Sandbox.create();
    container = sandbox.hostNs.replace('gn-host', 'gn-ctr');
    await execa('ip', ['netns', 'add', container]);
  });
  after(async () => {
    await execa('ip', ['netns', 'del', container], { reject: false });
    await sandbox?.destroy();
  });

  interface Row {
    pid: number | null;
    id: string;
    guestIf: string;
    guestLinkUp: boolean | null;
    agent: string;
  }
  const statusJson = async (): Promise<Row[]> => JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests;

  it('a --no-wait guest: its link is vm_wlan0 and down, and no agent is expected; a CNI container has a short id', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait'])).exitCode, 0);
    const cni = await runPlugin({ sandbox, container, containerId: CONTAINER }, 'ADD', {
      cniVersion: '1.0.0',
      name: 'n',
      type: 'guestnet',
    });
    assert.equal(cni.exitCode, 0, cni.stdout);
    const rows = await statusJson();
    const noWait = rows.find((g) => g.pid === guest.pid);
    assert.deepEqual([noWait?.guestIf, noWait?.guestLinkUp, noWait?.agent], ['vm_wlan0', false, 'none']);
    assert.equal(rows.find((g) => g.pid === null)?.agent, 'none');

    const table = await sandbox.hostAgent(['status']);
    assert.ok(widest(table.stdout) <= 80, table.stdout);
    assert.match(table.stdout, new RegExp(`^${guest.pid} +alive +vm_wlan +vm_wlan0 DOWN +172\\.17\\.3\\.3/16 +-(\\s|$)`, 'm'));
    assert.match(table.stdout, new RegExp(`^${CONTAINER.slice(0, 12)}/eth0 +alive .* -(\\s|$)`, 'm'));
    assert.doesNotMatch(table.stdout, new RegExp(CONTAINER));
    // A pipe stays within 80 columns whatever COLUMNS says; --wide has every column and the full id.
    const env = (columns: string, ...args: string[]) =>
      sandbox.host(['env', `COLUMNS=${columns}`, 'node', HOST_AGENT, 'status', '--state-dir', sandbox.stateDir, ...args]);
    assert.ok(widest((await env('200')).stdout) <= 80);
    assert.ok(widest((await env('60')).stdout) <= 60);
    const wide = await env('80', '--wide');
    assert.match(wide.stdout, /FORWARDS$/m);
    assert.match(wide.stdout, new RegExp(`^cni-${CONTAINER}-eth0 `, 'm'));
  });

  it('once an agent has taken the link over: its new name, up, and connected through a daemon', async () => {
    daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest();
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid)])).exitCode, 0);
    const row = (await statusJson()).find((g) => g.pid === guest.pid);
    assert.deepEqual([row?.guestIf, row?.guestLinkUp, row?.agent], ['wlan0', true, 'connected']);
    await guest.kill();
    await daemon.stop();
    daemon = undefined;
  });

  it('doctor: each line within 80 columns, and "1 problem blocks guests"', async () => {
    await sandbox.host(
      ['nft', '-f', '-'],
      'table inet filter {\n chain forward { type filter hook forward priority 0; policy drop; }\n}\n',
    );
    try {
      const result = await sandbox.hostAgent(['doctor', '--socket', sandbox.socket]);
      assert.equal(result.exitCode, ExitCode.doctorFailed);
      assert.ok(widest(result.stdout) <= 80, result.stdout);
      assert.match(result.stdout, /^\[FAIL\] forward: /m);
      assert.match(result.stdout, /\n1 problem blocks guests$/);
    } finally {
      await sandbox.host(['nft', 'delete', 'table', 'inet', 'filter']);
    }
  });
});
