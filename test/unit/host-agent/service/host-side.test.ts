import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detachAllHostSide, forwardHostSide, nftables, rotatedOnReattach } from '@guestnet/host-agent';
import { BadPidError, UsageError } from '@guestnet/protocol';
import { bareHost, GONE, storeWith } from '../../../fixtures/bare-host.js';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedRecord } from '../../../fixtures/typed-records.js';

// The host-side halves of forward and detach --all, and the token a
// re-attach rotates.

const adb = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };

describe('service/host-side: forward, detach --all, rotation on re-attach', () => {
  let stateDir: string;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));
  const ctxOf = async (records: Parameters<typeof storeWith>[1]) => ({
    firewall: nftables,
    stateDir,
    records: await storeWith(stateDir, records),
  });

  it('refuses a forward to a guest that is not attached, naming a pid as a pid and a container by its id', async () => {
    const ctx = await ctxOf([]);
    await assert.rejects(
      forwardHostSide('300', adb, false, bareHost(), ctx),
      (e: unknown) => e instanceof BadPidError && e.message === 'pid 300 is not attached; attach it first',
    );
    await assert.rejects(forwardHostSide('cni-abc-eth0', adb, false, bareHost(), ctx), /^BadPidError: cni-abc-eth0 is not attached/);
  });

  it('refuses a forward to a guest that joins a network: forwards are for routed guests', async () => {
    const macvlan = joinedRecord({ type: 'macvlan', macvlanMode: 'bridge', ...GONE });
    await assert.rejects(forwardHostSide(macvlan.id, adb, false, bareHost(), await ctxOf([macvlan])), UsageError);
  });

  it("publishes a routed guest's port in its record and its rules, and reports the forwards it now has", async () => {
    const record = sampleRecord({ pid: 4000007, hostIf: 'vm_cover_f', ...GONE });
    const ctx = await ctxOf([record]);
    const runner = bareHost();
    const result = await forwardHostSide(record.id, adb, false, runner, ctx);
    assert.deepEqual(result, { id: record.id, forwards: [adb], changed: true });
    const stored = ctx.records.get(record.id);
    assert.deepEqual(stored?.type === 'routed-veth' ? stored.forwards : undefined, [adb]);
    assert.ok(
      runner.steps.some((s) => s.kind === 'run' && s.argv[0] === 'nft'),
      'its rules',
    );
  });

  it('detaches nothing where no guest is attached', async () => {
    const runner = bareHost();
    assert.deepEqual(await detachAllHostSide(runner, await ctxOf([])), { ids: [], steps: [] });
    assert.deepEqual(runner.steps, []);
  });

  it('detaches every guest at once and forgets every record', async () => {
    const records = [
      sampleRecord({ pid: 4000008, hostIf: 'vm_cover_g', ...GONE }),
      joinedRecord({ type: 'macvlan', macvlanMode: 'bridge', pid: 4000009, ...GONE }),
    ];
    const ctx = await ctxOf(records);
    const { ids } = await detachAllHostSide(bareHost(), ctx);
    assert.deepEqual(ids.sort(), ['4000008', '4000009']);
    assert.equal(ctx.records.size, 0);
  });

  it('rotates no token on a first attach, and none for a record the attach did not leave in the store', async () => {
    const record = sampleRecord();
    const runner = bareHost();
    assert.deepEqual(await rotatedOnReattach(undefined, record, runner, await ctxOf([])), { record, rotation: [] });
    assert.deepEqual(await rotatedOnReattach(record, record, runner, await ctxOf([])), { record, rotation: [] });
    assert.deepEqual(runner.steps, []);
  });
});
