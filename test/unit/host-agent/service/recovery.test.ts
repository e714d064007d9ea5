import assert from 'node:assert/strict';
import { stat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { reconcileGuest, reconcileHost, recover, statePaths } from '@guestnet/host-agent';
import { bareHost, GONE, storeWith } from '../../../fixtures/bare-host.js';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedRecord } from '../../../fixtures/typed-records.js';

// Bringing the host back in line with its records after a crash: a dead
// guest's traces removed, an attach whose caller was still waiting rolled
// back, a record that describes the host itself never completed, and
// forwarding given back once no guest is left.

const dead = sampleRecord({ pid: 4000001, hostIf: 'vm_cover_a', ...GONE });

describe('service/recovery: the host brought back in line with its records', () => {
  let stateDir: string;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));

  it("removes a dead guest's traces and its record", async () => {
    const store = await storeWith(stateDir, [dead]);
    const runner = bareHost();
    const [recovery] = await recover(store, runner);
    assert.deepEqual([recovery?.id, recovery?.action], [dead.id, 'removed']);
    assert.equal(store.size, 0);
    assert.ok(runner.steps.some((s) => s.kind === 'remove' && s.path.endsWith(`${dead.id}.json`)));
  });

  it('rolls back an attach whose caller was still waiting for the guest: that caller was told it failed', async () => {
    const store = await storeWith(stateDir, [{ ...dead, awaitingGuest: true }]);
    const recoveries = await recover(store, bareHost());
    assert.deepEqual(
      recoveries.map((r) => r.action),
      ['rolledBack'],
    );
    assert.equal(store.size, 0);
  });

  it("never completes a record whose netns is the host's own: that would wire the host to itself", async () => {
    const own = `net:[${(await stat('/proc/self/ns/net')).ino}]`;
    const hostItself = sampleRecord({ pid: process.pid, hostIf: 'vm_cover_b', netnsPath: '/proc/self/ns/net', netns: own });
    const store = await storeWith(stateDir, [hostItself]);
    const runner = bareHost();
    const recoveries = await recover(store, runner);
    assert.deepEqual(
      recoveries.map((r) => r.action),
      ['removed'],
    );
    assert.ok(!runner.steps.some((s) => s.kind === 'run' && s.argv.includes('nsenter')), 'nothing entered the host as a guest');
  });

  it('removes dead guests of every type, each by its own driver', async () => {
    const macvlan = joinedRecord({ type: 'macvlan', macvlanMode: 'bridge', pid: 4000002, ...GONE });
    const store = await storeWith(stateDir, [dead, macvlan]);
    const recoveries = await recover(store, bareHost());
    assert.deepEqual(recoveries.map((r) => [r.id, r.action]).sort(), [
      ['4000001', 'removed'],
      ['4000002', 'removed'],
    ]);
    assert.equal(store.size, 0);
  });

  it('gives ip_forward back its value from before the first guest once no guest is left', async () => {
    const before = statePaths(stateDir).ipForwardBefore;
    await mkdir(dirname(before), { recursive: true });
    await writeFile(before, '0\n');
    const runner = bareHost();
    assert.deepEqual(await recover(await storeWith(stateDir, []), runner), []);
    assert.deepEqual(
      runner.steps.map((s) => (s.kind === 'sysctl' ? `${s.path}=${s.value}` : s.kind)),
      ['/proc/sys/net/ipv4/ip_forward=0', 'remove'],
    );
  });

  it('leaves ip_forward alone where guestnet never changed it', async () => {
    const runner = bareHost();
    await recover(await storeWith(stateDir, []), runner);
    assert.deepEqual(runner.steps, []);
  });

  it('reconciles a guest whose record is gone (a detach got there first) to nothing, without looking', async () => {
    const runner = bareHost();
    assert.equal(await reconcileGuest('300', await storeWith(stateDir, []), runner), undefined);
    assert.deepEqual([runner.reads, runner.steps], [[], []]);
  });

  it("reaps a guest that died: its link's going is what called the reconcile", async () => {
    const store = await storeWith(stateDir, [dead]);
    const recovery = await reconcileGuest(dead.id, store, bareHost());
    assert.equal(recovery?.action, 'removed');
    assert.equal(store.get(dead.id), undefined);
  });

  it('passes over a host without guests: no look, no change', async () => {
    const runner = bareHost();
    assert.deepEqual(await reconcileHost(await storeWith(stateDir, []), runner), []);
    assert.deepEqual([runner.reads, runner.steps], [[], []]);
  });
});
