import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { type AttachmentRecord, collectStatus, RecordingRunner } from '@guestnet/host-agent';
import { GONE } from '../../../fixtures/bare-host.js';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedRecord } from '../../../fixtures/typed-records.js';

// What status shows of each guest: alive or gone, what the agent column
// can honestly say, null for what a type does not have, and a reason when a
// routed guest cannot be online. It runs no process unless some guest
// publishes ports.

const connected = () => ({ connected: true, lastApply: undefined, dhcp: undefined });
const disconnected = () => ({ connected: false, lastApply: undefined, dhcp: undefined });
/** A guest that lives in this test's own netns, where `lo` is a link it has. */
const here = async (overrides: Parameters<typeof sampleRecord>[0]) =>
  sampleRecord({
    pid: process.pid,
    netnsPath: '/proc/self/ns/net',
    netns: `net:[${(await stat('/proc/self/ns/net')).ino}]`,
    hostIf: 'vm_cover_st',
    ...overrides,
  });
const one = async (record: AttachmentRecord, agents?: Parameters<typeof collectStatus>[2]) => {
  const status = await collectStatus([record], new RecordingRunner(), agents);
  assert.equal(status.guests.length, 1);
  return status.guests[0] as (typeof status.guests)[number];
};

describe('service/status: each guest as the host shows it', () => {
  it('shows a guest whose netns is gone as gone, its link under the name the agent was to give it', async () => {
    const guest = await one(sampleRecord({ pid: 4000003, hostIf: 'vm_cover_st', ...GONE }));
    assert.deepEqual([guest.state, guest.guestIf, guest.guestLinkUp], ['gone', 'wlan0', null]);
  });

  it('says what the daemon says of an agent, unknown with no daemon to ask, and says a daemon answered', async () => {
    const record = sampleRecord({ pid: 4000003, hostIf: 'vm_cover_st', ...GONE });
    assert.equal((await one(record, connected)).agent, 'connected');
    assert.equal((await one(record, disconnected)).agent, 'disconnected');
    assert.equal((await one(record)).agent, 'unknown');
    assert.equal((await collectStatus([record], new RecordingRunner())).daemon, false);
    assert.equal((await collectStatus([record], new RecordingRunner(), disconnected)).daemon, true);
  });

  it('expects no agent of a CNI container, nor of a guest without a link to configure', async () => {
    const cni = sampleRecord({ id: 'cni-0123456789abcdef-eth0', cni: { containerId: '0123456789abcdef', ifname: 'eth0' }, ...GONE });
    const empty = joinedRecord({ type: 'empty', link: undefined, hostIf: 'lo', pid: 4000004, ...GONE });
    for (const record of [cni, empty]) assert.equal((await one(record, disconnected)).agent, 'none', record.type);
    assert.equal((await one(cni)).label, '0123456789ab/eth0');
  });

  it('expects no agent of a live guest whose link still has the name attach gave it: no agent ever took it over', async () => {
    const untouched = await here({ guestIf: 'lo', guestName: 'wlan0' });
    const guest = await one(untouched, disconnected);
    assert.deepEqual([guest.state, guest.guestIf, guest.agent], ['alive', 'lo', 'none']);
    const renamed = await one(await here({ guestIf: 'vm_wlan0', guestName: 'lo' }), disconnected);
    assert.deepEqual([renamed.guestIf, renamed.agent], ['lo', 'disconnected'], 'renamed by an agent that is away now');
    const lost = await one(await here({ guestIf: 'vm_cover_x', guestName: 'vm_cover_y' }), disconnected);
    assert.equal(lost.guestIf, '?', 'a live guest without its link');
  });

  it('shows null for what a type does not have: no host end, address or uplink for an empty guest; no address for DHCP', async () => {
    const empty = await one(joinedRecord({ type: 'empty', link: undefined, hostIf: 'lo', pid: 4000004, ...GONE }));
    assert.deepEqual(
      [empty.type, empty.hostIf, empty.address, empty.uplink, empty.mac, empty.guestIf],
      ['empty', null, null, null, null, null],
    );
    const dhcp = await one(joinedRecord({ type: 'macvlan', macvlanMode: 'bridge', dhcp: true, pid: 4000005, ...GONE }));
    assert.deepEqual([dhcp.address, dhcp.gateway, dhcp.uplink, dhcp.blocked], [null, null, null, null]);
  });

  it('says why a routed guest cannot be online: forwarding off, or its link gone', async () => {
    const routed = await one(sampleRecord({ pid: 4000003, hostIf: 'vm_cover_st', ...GONE }));
    assert.match(routed.blocked ?? '', /^net\.ipv4\.ip_forward is \w+$|^its link vm_cover_st is gone$/);
  });

  it('runs no process unless some guest publishes ports', async () => {
    const runner = new RecordingRunner();
    await collectStatus([sampleRecord({ pid: 4000003, hostIf: 'vm_cover_st', ...GONE })], runner);
    assert.deepEqual(runner.reads, []);
  });
});
