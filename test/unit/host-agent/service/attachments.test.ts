import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachmentService, HostMemory, RecordingRunner, resolveSettings } from '@guestnet/host-agent';

// The processes an attach runs, counted through the recording runner: what
// the daemon's memory leaves on the attach path. One of this machine's own
// links stands in for the uplink, as the attach reads links from sysfs;
// nothing is changed, the runner only records.

const UPLINK = readdirSync('/sys/class/net').find((name) => name !== 'lo') ?? 'no link but lo';
const DEFAULT = JSON.stringify([{ dst: 'default', gateway: '192.0.2.1', dev: UPLINK }]);
const CANNED = {
  'nft list tables': '',
  'nft list tables ip': '',
  'ip -4 -j route show table all default': DEFAULT,
  'ip -6 -j route show table all default': '[]',
  'ip -j -4 route show': DEFAULT,
};

describe('attach through the daemon: processes on the critical path', () => {
  let stateDir: string;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));

  const guest = (pid: number) => ({ id: String(pid), pid, netnsPath: `/proc/${pid}/ns/net`, netns: `net:[${4026530000 + pid}]` });
  const settings = () => ({ ...resolveSettings({}, { firewall: 'nftables', dns: '192.0.2.53' }, 'test'), stateDir });

  it('a warm daemon runs three: the pair made from the guest netns, the host end, one nft transaction', async () => {
    const recorded = new RecordingRunner(CANNED);
    const memory = new HostMemory(recorded, () => true);
    const service = new AttachmentService(stateDir, memory);
    await memory.during(() => service.attach({ guest: guest(101), settings: settings() }));
    // The first attach's own commands make the memory stale; it re-reads once the host settles.
    await new Promise((r) => setTimeout(r, 150));

    const before = recorded.processes;
    const reads = recorded.reads.length;
    const steps = recorded.steps.length;
    await memory.during(() => service.attach({ guest: guest(102), settings: settings() }));
    const ran = recorded.steps.slice(steps).flatMap((s) => (s.kind === 'run' ? [s.argv.slice(0, s.argv[0] === 'nsenter' ? 2 : 1).concat(s.argv.slice(-2)).join(' ')] : []));
    assert.deepEqual(recorded.reads.slice(reads), [], 'no read on the attach path');
    assert.deepEqual(ran, ['nsenter --net=/proc/102/ns/net -batch -', 'ip -batch -', 'nft -f -']);
    assert.equal(recorded.processes - before, 3);
    memory.close();
  });

  it('without the memory (the one-shot CLI) the same writes, and reads of its own', async () => {
    const recorded = new RecordingRunner(CANNED);
    const service = new AttachmentService(stateDir, recorded);
    await service.attach({ guest: guest(101), settings: settings() });
    const runs = recorded.steps.filter((s) => s.kind === 'run').length;
    assert.equal(runs, 3);
    assert.ok(recorded.reads.length >= 3, `reads: ${JSON.stringify(recorded.reads)}`);
  });
});
