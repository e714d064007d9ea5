import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  type AttachmentRecord,
  attachResult,
  AttachmentService,
  type HostDone,
  HostMemory,
  RecordingRunner,
  resolveSettings,
  type RoutedVethRecord,
  type SetupOp,
} from '@guestnet/host-agent';

// The processes an attach runs, counted through the recording runner: what
// the daemon's memory leaves on the attach path. One of this machine's own
// links stands in for the uplink, as the attach reads links from sysfs;
// nothing is changed, the runner only records.

const UPLINK = readdirSync('/sys/class/net').find((name) => name !== 'lo') ?? 'no link but lo';
const DEFAULT = JSON.stringify([{ dst: 'default', gateway: '192.0.2.1', dev: UPLINK }]);
const CANNED = {
  'nft list tables': '',
  // A table of another shape than guestnet's: each attach makes it afresh, in its one nft transaction.
  'nft -j -t list table ip guestnet': '{"nftables": []}',
  'ip -4 -j route show table all default': DEFAULT,
  'ip -6 -j route show table all default': '[]',
  'ip -4 -j route show': DEFAULT,
};

// As the daemon and the CLI attach: waiting for the guest agent, which renames the link.
const WAITED = { extras: { waitsForAgent: true }, guestSide: async () => undefined };

describe('attach through the daemon: processes on the critical path', () => {
  let stateDir: string;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));

  const guest = (pid: number) => ({ id: String(pid), pid, netnsPath: `/proc/${pid}/ns/net`, netns: `net:[${4026530000 + pid}]` });
  const settings = () => ({ ...resolveSettings({}, { firewall: 'nftables', dns: '192.0.2.53' }, 'test'), stateDir });

  it('a warm daemon runs two: one ip for the pair and its host end, one nft transaction', async () => {
    const recorded = new RecordingRunner(CANNED);
    const memory = new HostMemory(recorded, () => true);
    const service = new AttachmentService(stateDir, memory);
    await memory.during(() => service.attach({ guest: guest(101), settings: settings(), ...WAITED }));
    // The first attach's own commands make the memory stale; it re-reads once the host settles.
    await new Promise((r) => setTimeout(r, 150));

    const before = recorded.processes;
    const reads = recorded.reads.length;
    const steps = recorded.steps.length;
    await memory.during(() => service.attach({ guest: guest(102), settings: settings(), ...WAITED }));
    const ran = recorded.steps.slice(steps).flatMap((s) => (s.kind === 'run' ? [s.argv.join(' ')] : []));
    assert.deepEqual(recorded.reads.slice(reads), [], 'no read on the attach path');
    assert.deepEqual(ran, ['ip -batch -', 'nft -f -']);
    assert.equal(recorded.processes - before, 2);
    // The daemon's runner runs each in the process of its command spawned ahead (exec/runner.ts).
    const spares = recorded.steps.slice(steps).flatMap((s) => (s.kind === 'run' ? [s.spare] : []));
    assert.deepEqual(spares, ['ip-batch', 'nft'], 'the pair and the firewall transaction run in the spare processes');
    memory.close();
  });

  it('without the memory (the one-shot CLI) the same writes, and reads of its own', async () => {
    const recorded = new RecordingRunner(CANNED);
    const service = new AttachmentService(stateDir, recorded);
    await service.attach({ guest: guest(101), settings: settings(), ...WAITED });
    const runs = recorded.steps.filter((s) => s.kind === 'run').length;
    assert.equal(runs, 2);
    assert.ok(recorded.reads.length >= 3, `reads: ${JSON.stringify(recorded.reads)}`);
  });

  it("keeps the guest end's name where no agent renames it, or where --guest-if names it; never shows a one-time name", async () => {
    const recorded = new RecordingRunner(CANNED);
    const service = new AttachmentService(stateDir, recorded);
    const waited = await service.attach({ guest: guest(101), settings: settings(), ...WAITED });
    const guestEnd = (r: AttachmentRecord) => (r as RoutedVethRecord).guestIf;
    assert.match(guestEnd(waited.record), /^gn[A-Za-z0-9]{13}$/);
    assert.equal(waited.record.token, `guestnet:${guestEnd(waited.record)}`);
    const shown = JSON.stringify(attachResult(waited, 'not-waited'));
    assert.ok(!shown.includes(guestEnd(waited.record)), shown);
    assert.equal((attachResult(waited, 'not-waited').attachment as { guestIf: string }).guestIf, '<one-time-name>');
    assert.match(attachResult(waited, 'not-waited').steps[1]?.op ?? '', /with <one-time-name> in the netns/);

    const notWaited = await service.attach({ guest: guest(102), settings: settings() });
    assert.equal(guestEnd(notWaited.record), 'vm_wlan0');
    assert.match(notWaited.record.token, /^guestnet:[0-9a-f]{32}$/);
    const named = await service.attach({ guest: guest(103), settings: { ...settings(), guestIf: 'eth1' }, ...WAITED });
    assert.equal(guestEnd(named.record), 'eth1');
  });
});

describe('attaches that arrive together: their records settle together', () => {
  let stateDir: string;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));

  const guest = (pid: number) => ({ id: String(pid), pid, netnsPath: `/proc/${pid}/ns/net`, netns: `net:[${4026530000 + pid}]` });
  const settings = () => ({ ...resolveSettings({}, { firewall: 'nftables', dns: '192.0.2.53' }, 'test'), stateDir });
  /** The record ops that end a wait for a guest agent, as the executor carries them out. */
  const settles = (ops: SetupOp[]) => ops.filter((op) => op.kind === 'updateRecords' && op.before.some((r) => r.awaitingGuest));

  /** Records as files, as the store reads them back under each lock; commands only recorded. */
  function filesAndRecording(fail?: (path: string) => boolean): RecordingRunner {
    const runner = new RecordingRunner(CANNED);
    const record = runner.perform.bind(runner);
    runner.perform = async (step) => {
      if (step.kind === 'remove') return rmSync(step.path, { force: true });
      if (step.kind !== 'write') return record(step);
      if (fail?.(step.path)) throw new Error(`${step.path}: no space left on device`);
      mkdirSync(dirname(step.path), { recursive: true });
      writeFileSync(step.path, step.content);
    };
    return runner;
  }

  /** `pids` attached as one request: their host sides as one group, then each one's guest side, all ending at once. */
  async function attachTogether(service: AttachmentService, pids: number[]) {
    let confirm: () => void = () => {};
    const confirmed = new Promise<void>((resolve) => (confirm = resolve));
    const requests = pids.map((pid) => ({
      guest: guest(pid),
      settings: settings(),
      extras: { waitsForAgent: true },
      guestSide: () => confirmed,
    }));
    const hosts = await service.attachHostSides(requests);
    const finished = Promise.allSettled(
      requests.map(async (request, i) => {
        const host = hosts[i];
        assert.equal(host?.status, 'fulfilled');
        return service.finishAttach(request, (host as PromiseFulfilledResult<HostDone>).value);
      }),
    );
    confirm();
    return finished;
  }

  it('ends the waits of many guests in a few record ops, not one each', async () => {
    const ops: SetupOp[] = [];
    const service = new AttachmentService(stateDir, filesAndRecording(), { afterSetupOp: (op) => ops.push(op) });
    const pids = [201, 202, 203, 204, 205, 206];
    const results = await attachTogether(service, pids);
    assert.deepEqual(
      results.map((r) => r.status),
      pids.map(() => 'fulfilled'),
    );
    // The first alone, at once; the others, which ended while it was written, as the next group.
    assert.equal(settles(ops).length, 2, JSON.stringify(settles(ops).map((op) => op.kind)));
    assert.deepEqual(
      pids.map((pid) => service.records.get(String(pid))?.awaitingGuest),
      pids.map(() => undefined),
    );
  });

  it('a record that cannot be written fails its own attach alone: the others settle', async () => {
    // Its record was written, and marked as waiting: what fails is the write that ends its wait.
    let writes = 0;
    const service = new AttachmentService(
      stateDir,
      filesAndRecording((path) => path.endsWith('/303.json') && ++writes > 2),
    );
    const results = await attachTogether(service, [301, 302, 303, 304]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(service.records.get('303'), undefined, 'the failed attach was rolled back');
    for (const pid of [301, 302, 304]) assert.equal(service.records.get(String(pid))?.awaitingGuest, undefined);
  });
});
