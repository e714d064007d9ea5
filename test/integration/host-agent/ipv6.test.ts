import assert from 'node:assert/strict';
import { type Guest, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

const DISABLE_IPV6 = ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];

describe('IPv6 disabled on the host and in the guest: IPv4 still works, and guests get no IPv6', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let guest: Guest;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create();
    assert.equal((await sandbox.host(DISABLE_IPV6)).exitCode, 0);
    guest = await sandbox.startGuest();
    assert.equal((await guest.exec(DISABLE_IPV6)).exitCode, 0);
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => sandbox?.destroy());

  it('attaches, and the guest reaches the server through NAT', async () => {
    const result = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
  });

  it('gives the guest link no IPv6 address', async () => {
    assert.equal((await guest.exec(['ip', '-6', 'address', 'show', 'dev', 'wlan0'])).stdout.trim(), '');
  });

  it('detach leaves the host as it was', async () => {
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
