import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { type Daemon, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// The daemon keeps one `ip -batch -` spawned ahead, waiting on its stdin, and
// a warm attach makes its guest's pair in it; once its firewall has run, an
// `nft -f -` too, in which the next attach's firewall change runs. Seen from
// /proc: the process that waited before the attach has run and exited after
// it, and another waits in its place.

const IP_BATCH = 'ip\0-batch\0-\0';
const NFT = 'nft\0-f\0-\0';

/** The daemon's children whose command line is `cmdline`. */
async function sparesOf(daemon: Daemon, cmdline = IP_BATCH): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const found = await Promise.all(
    pids.map(async (pid) => {
      const [stat, command] = await Promise.all([
        readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''),
        readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
      ]);
      // The parent's pid is the second field after the command's name, which may hold spaces.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return parent === daemon.pid && command === cmdline ? [Number(pid)] : [];
    }),
  );
  return found.flat();
}

async function waitingSpare(daemon: Daemon, not?: number, cmdline = IP_BATCH): Promise<number> {
  const deadline = Date.now() + SETTLE_GUARD_MS;
  for (;;) {
    const spare = (await sparesOf(daemon, cmdline)).find((pid) => pid !== not);
    if (spare !== undefined) return spare;
    if (Date.now() > deadline) throw new Error(`no ${cmdline.split('\0').join(' ').trim()} waits under the daemon ${daemon.pid}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('host-agent serve: the processes spawned ahead', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let daemon: Daemon;

  before(async () => {
    sandbox = await Sandbox.create();
    daemon = await sandbox.startDaemon();
  });
  after(async () => sandbox?.destroy());

  it("makes each attach's pair in the process that waited, then spawns the next", async () => {
    for (let i = 0; i < 2; i++) {
      const spare = await waitingSpare(daemon);
      const guest = await sandbox.startGuest();
      const attached = await sandbox.hostAgent(['attach', String(guest.pid), '--json']);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.ok(!(await sparesOf(daemon)).includes(spare), `the spare ${spare} still waits after attach ${i + 1}`);
      await waitingSpare(daemon, spare);
    }
  });

  it("runs the next attach's firewall change in the nft that waited since the last one", async () => {
    const spare = await waitingSpare(daemon, undefined, NFT);
    const guest = await sandbox.startGuest();
    const attached = await sandbox.hostAgent(['attach', String(guest.pid), '--json']);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.ok(!(await sparesOf(daemon, NFT)).includes(spare), `the nft ${spare} still waits after the attach`);
    await waitingSpare(daemon, spare, NFT);
  });

  it('leaves no process of its own behind when the daemon stops', async () => {
    const spares = [await waitingSpare(daemon), await waitingSpare(daemon, undefined, NFT)];
    await daemon.stop();
    const gone = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) === '';
    const deadline = Date.now() + SETTLE_GUARD_MS;
    while (Date.now() < deadline && !(await Promise.all(spares.map(gone))).every(Boolean)) await new Promise((r) => setTimeout(r, 50));
    for (const spare of spares) assert.ok(await gone(spare), `the spare ${spare} outlived the daemon`);
  });
});

describe('the firewall tools a daemon spawns ahead', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  /** The tool started in the host netns, waiting on its stdin: what a spare is. */
  const waiting = (argv: string[]) => {
    const child = spawn('ip', ['netns', 'exec', sandbox.hostNs, ...argv], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    return {
      give: async (input: string) => {
        child.stdin.end(input);
        assert.equal(await exited, 0, `${argv.join(' ')}: ${stderr}`);
      },
    };
  };

  // Kept waiting, a tool must neither hold the xtables lock nor have read the ruleset: what others change meanwhile
  // is there when its input comes. This holds the design (exec/spares.ts) to what the tools do.
  it('hold no lock and read the ruleset only once given their input', async () => {
    const nft = waiting(['nft', '-f', '-']);
    const restore = waiting(['iptables-restore', '--noflush', '-w']);
    const legacy = waiting(['iptables-legacy-restore', '--noflush', '-w']);
    await new Promise((r) => setTimeout(r, 300));
    for (const argv of [
      ['nft', 'add', 'table', 'ip', 'spare_test'],
      ['nft', 'add', 'chain', 'ip', 'spare_test', 'made_meanwhile'],
      ['iptables', '-w', '1', '-N', 'MADE_MEANWHILE'],
      ['iptables-legacy', '-w', '1', '-N', 'MADE_MEANWHILE'],
    ]) {
      const made = await sandbox.host(argv);
      assert.equal(made.exitCode, 0, `${argv.join(' ')} waited on a lock a spare holds: ${made.stderr}`);
    }
    await nft.give('add rule ip spare_test made_meanwhile counter\n');
    await restore.give('*filter\n-A MADE_MEANWHILE -j ACCEPT\nCOMMIT\n');
    await legacy.give('*filter\n-A MADE_MEANWHILE -j ACCEPT\nCOMMIT\n');
    assert.match((await sandbox.host(['nft', 'list', 'chain', 'ip', 'spare_test', 'made_meanwhile'])).stdout, /counter/);
    assert.match((await sandbox.host(['iptables', '-S', 'MADE_MEANWHILE'])).stdout, /-A MADE_MEANWHILE -j ACCEPT/);
    assert.match((await sandbox.host(['iptables-legacy', '-S', 'MADE_MEANWHILE'])).stdout, /-A MADE_MEANWHILE -j ACCEPT/);
  });
});
