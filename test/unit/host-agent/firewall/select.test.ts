import assert from 'node:assert/strict';
import { firewallFor, firewallNamed, RecordingRunner } from '@guestnet/host-agent';
import { UsageError } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';

// One backend per state dir: the one attached guests use wins, an explicit
// choice that differs from it is refused, and detection runs only when
// nothing else decides. (Detection itself reads /proc and PATH: the
// integration tests run it.)

describe('firewall/select: which backend the next change uses', () => {
  it('names each backend by its own name', () => {
    for (const name of ['nftables', 'iptables', 'iptables-legacy'] as const) assert.equal(firewallNamed(name).name, name);
  });

  it('keeps the backend attached guests use, without detecting anything, whatever auto would find', async () => {
    const runner = new RecordingRunner();
    const records = [sampleRecord({ pid: 1, firewall: 'iptables-legacy' }), sampleRecord({ pid: 2, firewall: 'iptables-legacy' })];
    assert.equal((await firewallFor('auto', records, runner)).name, 'iptables-legacy');
    assert.equal((await firewallFor('iptables-legacy', records, runner)).name, 'iptables-legacy');
    assert.deepEqual(runner.reads, []);
  });

  it('refuses to switch backends while guests are attached: one clear usage error naming both', async () => {
    const records = [sampleRecord({ firewall: 'nftables' })];
    await assert.rejects(firewallFor('iptables', records, new RecordingRunner()), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /attached with nftables.*detach them all before switching to iptables/);
      return true;
    });
  });

  it('takes an explicit choice as is when no guest is attached, without detecting', async () => {
    const runner = new RecordingRunner();
    for (const choice of ['nftables', 'iptables', 'iptables-legacy'] as const)
      assert.equal((await firewallFor(choice, [], runner)).name, choice);
    assert.deepEqual(runner.reads, []);
  });
});
