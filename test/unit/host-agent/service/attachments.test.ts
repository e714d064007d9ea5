import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttachmentRecord,
  attachResult,
  AttachmentService,
  HostMemory,
  RecordingRunner,
  resolveSettings,
  type RoutedVethRecord,
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
