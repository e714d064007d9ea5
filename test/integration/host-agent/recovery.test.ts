import assert from 'node:assert/strict';
import { ExitCode } from '@guestnet/protocol';
import { type Guest, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

// serve --kill-after-op N (a hidden test seam) makes the daemon SIGKILL itself
// right after the Nth setup op to finish. A first guest's attach has four
// before the mark that it waits for its agent: writeRecord, then createVeth
// beside enableIpForward and setGuestRules (exec/apply.ts runs the firewall's
// lane beside the link's), so which of those ends second or third varies; a
// later guest's three (ip_forward is on). Every kill before the mark leaves
// an attach a restart completes.
const FIRST_GUEST_OPS = ['writeRecord', 'createVeth', 'enableIpForward', 'setGuestRules'];
const LATER_GUEST_OPS = ['writeRecord', 'createVeth', 'setGuestRules'];
const killedAfter = (n: number, ops: string[]) => (n === 1 ? 'writeRecord' : `${n} of ${ops.join(', ')}`);

async function online(sandbox: Sandbox, guest: Guest, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  do {
    if ((await sandbox.fetchFromGuest(guest)).stdout.trim() === UPLINK.hostAddress) return true;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  return false;
}

/** Attach with a daemon that dies after op `n`; returns the guest, half attached. */
async function crashDuringAttach(sandbox: Sandbox, n: number): Promise<Guest> {
  const daemon = await sandbox.startDaemon(['--kill-after-op', String(n)]);
  const guest = await sandbox.startGuest();
  const result = await sandbox.hostAgent(['attach', String(guest.pid)]);
  assert.equal(result.exitCode, ExitCode.daemonDied, result.stderr);
  assert.match(result.stderr, /died mid-request/);
  assert.equal((await daemon.stop()).signal, 'SIGKILL', 'the daemon should have died at the fault');
  return guest;
}

describe('host-agent serve: crash recovery after kill -9 at every step of attach', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => sandbox?.destroy());

  for (const index of FIRST_GUEST_OPS.keys()) {
    it(`first guest, killed after ${killedAfter(index + 1, FIRST_GUEST_OPS)}: a restart completes the attach, detach restores the host`, async () => {
      const guest = await crashDuringAttach(sandbox, index + 1);
      const daemon = await sandbox.startDaemon();
      assert.ok(await online(sandbox, guest, 10_000), 'the guest did not come online after recovery');
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      await daemon.stop();
      await guest.kill();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  }

  describe('with another guest online all along', () => {
    let bystander: Guest;

    before(async () => {
      const daemon = await sandbox.startDaemon();
      bystander = await sandbox.startGuest();
      assert.equal((await sandbox.hostAgent(['attach', String(bystander.pid)])).exitCode, 0);
      await daemon.stop();
    });
    after(async () => {
      await sandbox.hostAgent(['detach', String(bystander.pid)]);
      await bystander.kill();
    });

    for (const index of LATER_GUEST_OPS.keys()) {
      it(`killed after ${killedAfter(index + 1, LATER_GUEST_OPS)}: the other guest never loses its network, the new one comes online`, async () => {
        const guest = await crashDuringAttach(sandbox, index + 1);
        assert.equal((await sandbox.fetchFromGuest(bystander)).stdout.trim(), UPLINK.hostAddress, 'cut off while the daemon was down');
        const daemon = await sandbox.startDaemon();
        assert.ok(await online(sandbox, guest, 10_000), 'the guest did not come online after recovery');
        assert.equal((await sandbox.fetchFromGuest(bystander)).stdout.trim(), UPLINK.hostAddress);
        assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
        await daemon.stop();
        await guest.kill();
      });
    }

    it('a guest that died while the daemon was down is cleaned away at restart', async () => {
      const guest = await crashDuringAttach(sandbox, 2);
      await guest.kill();
      const daemon = await sandbox.startDaemon();
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
      assert.deepEqual(
        status.guests.map((g: { pid: number }) => g.pid),
        [bystander.pid],
      );
      assert.match(daemon.output(), /removed a dead guest/);
      const links = (await sandbox.host(['nft', 'list', 'set', 'ip', 'guestnet', 'guest_links'])).stdout;
      assert.doesNotMatch(links, /vm_wlan1/);
      await daemon.stop();
    });
  });

  // A describe of its own: mocha runs a block's own tests before its nested blocks.
  describe('afterwards', () => {
    it('leaves the host exactly as before once everything is detached', async () => {
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
});
