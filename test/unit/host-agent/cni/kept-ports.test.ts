import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type FileHandle, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropKeptPorts, keepPorts, keptPorts } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

// This process's own netns stands for a container's that lives on after a DEL. A runtime's netns
// is a bind mount, which keeps its nsfs inode (and the ctime the note is checked by); an open file does here.
const netnsPath = `/proc/${process.pid}/ns/net`;
const forwards = [{ protocol: 'tcp' as const, hostPort: 8080, guestPort: 80 }];
const cni = { containerId: 'c0ffee', ifname: 'eth0', network: 'podman' };

describe('CNI: ports kept across a DEL and ADD in the same netns', () => {
  let stateDir: string;
  let record: ReturnType<typeof sampleRecord>;
  let held: FileHandle;
  beforeEach(async () => {
    held = await open(netnsPath, 'r');
    stateDir = await mkdtemp(join(tmpdir(), 'guestnet-kept-'));
    const netns = `net:[${(await stat(netnsPath)).ino}]`;
    record = sampleRecord({ id: 'cni-c0ffee-eth0', netnsPath, netns, cni, forwards });
  });
  afterEach(async () => {
    await held.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('gives the ports back to an ADD into the very netns and network, and only says one was kept to any other', async () => {
    await keepPorts(stateDir, record);
    assert.deepEqual(await keptPorts(stateDir, record), { found: true, forwards });
    assert.deepEqual(await keptPorts(stateDir, { ...record, cni: { ...cni, network: 'other' } }), { found: true });
    assert.deepEqual(await keptPorts(stateDir, { ...record, netns: 'net:[1]' }), { found: true });
    assert.deepEqual(await keptPorts(stateDir, { ...record, id: 'cni-other-eth0' }), { found: false });
  });

  it('keeps nothing for an attachment without ports, or whose netns is gone or another', async () => {
    await keepPorts(stateDir, { ...record, forwards: [] });
    await keepPorts(stateDir, { ...record, netnsPath: '/proc/0/ns/net' });
    await keepPorts(stateDir, { ...record, netns: 'net:[1]' });
    assert.deepEqual(await keptPorts(stateDir, record), { found: false });
  });

  it("drops a note taken back, one that is damaged or whose netns is gone, and then the dir; keeps a living one's", async () => {
    await keepPorts(stateDir, record);
    await keepPorts(stateDir, { ...record, id: 'cni-living-eth0' });
    const dir = join(stateDir, 'cni-ports');
    await writeFile(join(dir, 'cni-damaged-eth0.json'), '{"netnsPath":');
    await writeFile(join(dir, 'cni-gone-eth0.json'), JSON.stringify({ netnsPath: '/proc/0/ns/net', netns: 'net:[1]', born: 1, forwards }));
    await dropKeptPorts(stateDir, record.id);
    assert.deepEqual(await readdir(dir), ['cni-living-eth0.json']);
    await dropKeptPorts(stateDir, 'cni-living-eth0');
    assert.equal(existsSync(dir), false);
    await dropKeptPorts(stateDir);
  });
});
