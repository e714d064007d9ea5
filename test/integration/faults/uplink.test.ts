import assert from 'node:assert/strict';
import { ExitCode } from '@guestnet/protocol';
import { Sandbox, UPLINK } from '../../fixtures/sandbox.js';

// The uplink's name reaches nft and iptables-restore input, and the uplink
// must never be a link that carries guests. An unusable one is refused in
// one line with exit 8 before anything changes, and a record the agent wrote
// stays readable.

describe('faults: uplinks that cannot carry guests are refused before anything changes', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => sandbox?.destroy());

  const refused = async (args: string[], reason: RegExp) => {
    const guest = await sandbox.startGuest({ agent: false });
    const result = await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait', ...args]);
    assert.equal(result.exitCode, ExitCode.uplinkNotFound, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, reason);
    await guest.kill();
    const status = await sandbox.hostAgent(['status', '--json']);
    assert.equal(status.exitCode, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout).guests, []);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  };

  it('refuses lo', () => refused(['--uplink', 'lo'], /loopback/));

  it("refuses another guest's host link, and a name of the guests' link family", async () => {
    const first = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(first.pid), '--no-wait'])).exitCode, 0);
    const second = await sandbox.startGuest({ agent: false });
    const result = await sandbox.hostAgent(['attach', String(second.pid), '--no-wait', '--uplink', 'vm_wlan']);
    assert.equal(result.exitCode, ExitCode.uplinkNotFound, result.stderr);
    assert.match(result.stderr, /a guest's own link/);
    assert.equal((await sandbox.hostAgent(['detach', String(first.pid)])).exitCode, 0);
    await Promise.all([first.kill(), second.kill()]);
    await refused(['--uplink', 'vm_wlan7'], /a guest's own link/);
  });

  for (const name of ['wl"an0', 'a;b', 'x}#']) {
    it(`refuses a default route via a link named ${name}, and every later command still works`, async () => {
      await sandbox.host(['ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', 'gn-odd-peer']);
      try {
        await sandbox.host(['ip', 'link', 'set', name, 'up']);
        await sandbox.host(['ip', 'link', 'set', 'gn-odd-peer', 'up']);
        await sandbox.host(['ip', 'address', 'add', '10.250.0.2/24', 'dev', name]);
        const route = await sandbox.host(['ip', 'route', 'replace', 'default', 'via', '10.250.0.1', 'dev', name]);
        assert.equal(route.exitCode, 0, route.stderr);
        const guest = await sandbox.startGuest({ agent: false });
        const result = await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait']);
        assert.equal(result.exitCode, ExitCode.uplinkNotFound, result.stderr);
        assert.match(result.stderr, /characters guestnet does not put in rules/);
        await guest.kill();
        assert.equal((await sandbox.hostAgent(['status'])).exitCode, 0);
        assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      } finally {
        await sandbox.host(['ip', 'link', 'del', name]);
        await sandbox.host(['ip', 'route', 'replace', 'default', 'via', UPLINK.inetAddress, 'dev', 'wlan0']);
      }
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  }
});
