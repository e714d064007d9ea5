import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dnsOf, withEntry } from '@guestnet/guest-agent';
import { DNS, type Guest, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

describe('guest-agent --platform android: DNS through EthernetService, not resolv.conf', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let guest: Guest;
  let ipconfig: string;
  let otherRecord: Buffer;

  before(async () => {
    sandbox = await Sandbox.create();
    ipconfig = join(sandbox.dir, 'ipconfig.txt');
    // A record the device already had, for another interface: it must survive untouched.
    const existing = withEntry(undefined, { id: 'eth1', address: '10.9.0.2', prefixLength: 24, gateway: '10.9.0.1', dns: ['10.9.0.53'] });
    otherRecord = existing.subarray(4);
    await writeFile(ipconfig, existing);
    guest = await sandbox.startGuest({ agentArgs: ['--platform', 'android', '--ipconfig', ipconfig] });
  });
  after(async () => sandbox?.destroy());

  it('attaches as eth0, the name EthernetService manages, and the guest is online', async () => {
    const result = await sandbox.hostAgent(['attach', String(guest.pid), '--guest-name', 'eth0']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
  });

  it("writes eth0's static address, gateway and DNS into ipconfig.txt, keeping the other record", async () => {
    const file = await readFile(ipconfig);
    assert.deepEqual(dnsOf(file, 'eth0'), [DNS]);
    assert.deepEqual(dnsOf(file, 'eth1'), ['10.9.0.53']);
    assert.ok(file.includes(otherRecord), 'the eth1 record changed');
    assert.ok(file.includes(Buffer.from('172.17.3.3')), 'no static address for eth0');
  });

  it('status reads the DNS back from ipconfig.txt', async () => {
    const shown = JSON.parse((await guest.agentStatus(true, ['--platform', 'android', '--ipconfig', ipconfig])).stdout);
    assert.deepEqual(shown.dns, [DNS]);
    assert.equal(shown.link.name, 'eth0');
  });
});
