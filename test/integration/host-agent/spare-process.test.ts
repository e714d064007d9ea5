import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { type Daemon, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// The daemon keeps one `ip -batch -` and one `nft -f -` spawned ahead, each
// waiting on its stdin, and a warm attach makes its guest's pair in the one
// and its firewall transaction in the other. Seen from /proc: each process
// that waited before the attach has run and exited after it, and another
// waits in its place.

const IP_BATCH = 'ip\0-batch\0-\0';
const NFT_SCRIPT = 'nft\0-f\0-\0';

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
    if (Date.now() > deadline) throw new Error(`no ${cmdline.replace(/\0/g, ' ').trim()} waits under the daemon ${daemon.pid}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('host-agent serve: the ip -batch spawned ahead', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let daemon: Daemon;

  before(async () => {
    sandbox = await Sandbox.create();
    daemon = await sandbox.startDaemon();
  });
  after(async () => sandbox?.destroy());

  it("makes each attach's pair and firewall transaction in the processes that waited, then spawns the next", async () => {
    for (let i = 0; i < 2; i++) {
      const [spare, nft] = [await waitingSpare(daemon), await waitingSpare(daemon, undefined, NFT_SCRIPT)];
      const guest = await sandbox.startGuest();
      const attached = await sandbox.hostAgent(['attach', String(guest.pid), '--json']);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.ok(!(await sparesOf(daemon)).includes(spare), `the spare ${spare} still waits after attach ${i + 1}`);
      assert.ok(!(await sparesOf(daemon, NFT_SCRIPT)).includes(nft), `the nft spare ${nft} still waits after attach ${i + 1}`);
      await waitingSpare(daemon, spare);
      await waitingSpare(daemon, nft, NFT_SCRIPT);
    }
  });

  it('leaves no process of its own behind when the daemon stops', async () => {
    const spares = [await waitingSpare(daemon), await waitingSpare(daemon, undefined, NFT_SCRIPT)];
    await daemon.stop();
    for (const spare of spares) {
      const deadline = Date.now() + SETTLE_GUARD_MS;
      while (Date.now() < deadline && (await readFile(`/proc/${spare}/cmdline`, 'utf8').catch(() => '')) !== '')
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(await readFile(`/proc/${spare}/cmdline`, 'utf8').catch(() => ''), '', `the spare ${spare} outlived the daemon`);
    }
  });
});
