import assert from 'node:assert/strict';
import { type Guest, Sandbox } from '../../fixtures/sandbox.js';

// A launcher shutting down removes every guest at once: through the daemon,
// or without one, and a second time as a no-op.

const GUESTS = 5;

for (const mode of ['daemon', 'one-shot'] as const) {
  describe(`host-agent detach --all (${mode})`, function () {
    this.timeout(120_000);
    let sandbox: Sandbox;
    let pristine: string;
    const guests: Guest[] = [];

    before(async () => {
      sandbox = await Sandbox.create();
      pristine = await sandbox.hostSnapshot();
      for (let i = 0; i < GUESTS; i++) guests.push(await sandbox.startGuest({ agent: false }));
    });
    after(async () => sandbox?.destroy());

    it(`removes all ${GUESTS} guests and leaves the host exactly as before`, async () => {
      const daemon = mode === 'daemon' ? await sandbox.startDaemon() : undefined;
      for (const guest of guests) assert.equal((await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait'])).exitCode, 0);
      // One guest is gone already: its link went with its netns. A daemon reaps it at once; without one, its record waits.
      await guests[0]?.kill();
      const left = mode === 'daemon' ? GUESTS - 1 : GUESTS;
      for (let i = 0; i < 100 && JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.length !== left; i++)
        await new Promise((r) => setTimeout(r, 50));
      const result = await sandbox.hostAgent(['detach', '--all']);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^detached ${left} guest\\(s\\): `));
      assert.match(result.stdout, /delete 4 link\(s\)/, 'one batch for the links still there');
      assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
      await daemon?.stop();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('is a no-op the second time, and wants either a pid or --all', async () => {
      const again = await sandbox.hostAgent(['detach', '--all', '--json']);
      assert.equal(again.exitCode, 0, again.stderr);
      assert.deepEqual(JSON.parse(again.stdout), { ids: [], steps: [] });
      for (const args of [['detach'], ['detach', '--all', String(guests[1]?.pid)]]) {
        const refused = await sandbox.hostAgent(args);
        assert.equal(refused.exitCode, 2);
        assert.equal(refused.stderr, 'host-agent: give either a pid or --all (see host-agent detach --help)');
      }
    });
  });
}
