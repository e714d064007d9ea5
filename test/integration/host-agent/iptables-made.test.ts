import assert from 'node:assert/strict';
import { startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { type Guest, Sandbox } from '../../fixtures/sandbox.js';

// iptables-nft makes a table, and each built-in chain, when a rule first needs
// it, and never removes them. After the last guest, nothing guestnet made may
// stay behind, and nothing that was there before may go: on a host with no
// iptables tables at all, and on one where CNI ptp left only nat POSTROUTING
// (its masquerade), attach then detach leaves the ruleset exactly as it was.

const HOSTS = {
  'no iptables tables': [],
  "CNI ptp's nat POSTROUTING only": [['iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.22.0.0/24', '-j', 'MASQUERADE']],
};

for (const [host, setup] of Object.entries(HOSTS))
  describe(`iptables-nft on a host with ${host}: what guestnet made goes with the last guest`, function () {
    this.timeout(60_000);
    let sandbox: Sandbox;
    let guest: Guest;
    let pristine: string;
    /** The chains of ip's tables, from nft: what iptables-save cannot tell (it prints every built-in chain). */
    const chains = async () =>
      (
        JSON.parse((await sandbox.host(['nft', '-j', 'list', 'chains', 'ip'])).stdout).nftables as Array<{
          chain?: { table: string; name: string };
        }>
      )
        .flatMap(({ chain }) => (chain ? [`${chain.table} ${chain.name}`] : []))
        .sort();
    let chainsBefore: string[];

    before(async () => {
      // An nftables host: its own table, and no iptables table unless the setup makes one.
      sandbox = await Sandbox.create('nftables');
      for (const argv of setup) assert.equal((await sandbox.host(argv)).exitCode, 0);
      guest = await sandbox.startGuest();
      pristine = await sandbox.hostSnapshot();
      chainsBefore = await chains();
    });
    after(async () => sandbox?.destroy());

    it('attach then detach leaves the ruleset as it was', async () => {
      const attached = await sandbox.hostAgent(['attach', String(guest.pid), '--firewall', 'iptables']);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.equal((await sandbox.hostAgent(['forward', String(guest.pid), '8081:80'])).exitCode, 0);
      assert.match((await sandbox.host(['iptables-save', '-t', 'nat'])).stdout, /GUESTNET-PREROUTING/);
      const detached = await sandbox.hostAgent(['detach', String(guest.pid)]);
      assert.equal(detached.exitCode, 0, detached.stderr);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    // An undo has not looked at the host since it installed: a table it made may hold someone else's
    // rules by then, so it stays (empty, if no one did); every chain guestnet made goes.
    it('an attach rolled back (its guest agent never confirms) leaves no chain guestnet made', async () => {
      const silent = await sandbox.startGuest({ agent: false });
      const attached = await sandbox.hostAgent(['attach', String(silent.pid), '--firewall', 'iptables', '--timeout', '1000']);
      assert.notEqual(attached.exitCode, 0);
      assert.deepEqual(await chains(), chainsBefore);
    });
  });

// ip6tables-nft makes ip6's tables as iptables-nft makes ip's: a routed guest
// with IPv6 is what makes them on an nftables host, and its detach removes them.
describe('iptables-nft on an nftables host: what ip6tables made for a guest with IPv6 goes with it', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let guest: Guest;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create('nftables');
    await startRaUplink(sandbox);
    guest = await sandbox.startGuest();
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => sandbox?.destroy());

  it('attach then detach leaves the ruleset as it was', async () => {
    const ruleset = async () => (await sandbox.host(['nft', 'list', 'ruleset'])).stdout;
    assert.doesNotMatch(await ruleset(), /table ip6 (filter|nat)/, 'ip6 has no iptables table before');
    const attached = await sandbox.hostAgent(['attach', String(guest.pid), '--firewall', 'iptables']);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.match((await sandbox.host(['ip6tables-save', '-t', 'filter'])).stdout, /GUESTNET-FORWARD/, 'the guest has IPv6 rules');
    const detached = await sandbox.hostAgent(['detach', String(guest.pid)]);
    assert.equal(detached.exitCode, 0, detached.stderr);
    assert.doesNotMatch(await ruleset(), /table ip6 (filter|nat)/, 'a table ip6tables made stayed behind');
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
