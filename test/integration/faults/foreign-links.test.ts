import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from '../../fixtures/sandbox.js';

// Detach and recovery delete a link only when it is provably the one guestnet
// made for the record, and a record is held to the checks of a fresh attach.

describe('faults: links and records that are not what they claim', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  const recordFile = (id: string) => join(sandbox.stateDir, 'attachments', `${id}.json`);
  const linkExists = async (name: string) => (await sandbox.host(['ip', 'link', 'show', 'dev', name])).exitCode === 0;

  it("detach leaves alone a host link that took a dead guest's link name", async () => {
    const guest = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait'])).exitCode, 0);
    await guest.kill();
    await sandbox.host(['ip', 'link', 'add', 'vm_wlan', 'type', 'veth', 'peer', 'name', 'gn-foreign']);
    try {
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      assert.ok(await linkExists('vm_wlan'), "detach deleted the host's own vm_wlan");
      assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    } finally {
      await sandbox.host(['ip', 'link', 'del', 'vm_wlan']);
    }
  });

  it('recovery never deletes the uplink a hand-edited record names as its guest link', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait'])).exitCode, 0);
    await guest.kill();
    const { tagged, ...record } = JSON.parse(await readFile(recordFile(String(guest.pid)), 'utf8'));
    await writeFile(recordFile(String(guest.pid)), JSON.stringify({ ...record, hostIf: 'wlan0' }));
    const daemon = await sandbox.startDaemon();
    assert.ok(await linkExists('wlan0'), 'recovery deleted the uplink');
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    await daemon.stop();
  });

  it("recovery never completes a record whose netns is the host's own", async () => {
    const netns = (await sandbox.host(['readlink', '/proc/self/ns/net'])).stdout.trim();
    const guest = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait'])).exitCode, 0);
    const record = JSON.parse(await readFile(recordFile(String(guest.pid)), 'utf8'));
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await guest.kill();
    const forged = { ...record, id: '4242', pid: 4242, netnsPath: '/proc/self/ns/net', netns, hostIf: 'vm_wlan9' };
    await writeFile(recordFile('4242'), JSON.stringify(forged));
    const daemon = await sandbox.startDaemon();
    assert.ok(!(await linkExists('vm_wlan9')), 'recovery created links in the host netns');
    assert.ok(!(await linkExists('vm_wlan0')), 'recovery created links in the host netns');
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    await daemon.stop();
  });
});
