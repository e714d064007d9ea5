import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeNetdHost, NETD_IPV6, restartNetd, uplinkTable } from '../../fixtures/android-host.js';
import { type Guest, Sandbox, SETTLE_GUARD_MS, UPLINK } from '../../fixtures/sandbox.js';

describe('an Android host (netd chains, policy routing, netd restarts), simulated in the sandbox', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let guest: Guest;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create('iptables');
    await makeNetdHost(sandbox, UPLINK.inetAddress, `198.51.100.0/${UPLINK.prefix}`);
    pristine = await sandbox.hostSnapshot();
    await sandbox.startDaemon();
    guest = await sandbox.startGuest();
  });
  after(async () => sandbox?.destroy());

  it('is detected without --platform, and the guest gets online through tetherctrl_FORWARD DROP and no rule for main', async () => {
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const record = JSON.parse(await readFile(join(sandbox.stateDir, 'attachments', `${guest.pid}.json`), 'utf8'));
    assert.equal(record.policyTable, await uplinkTable(sandbox));
    assert.equal(await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS), UPLINK.hostAddress);
    const rules = (await sandbox.host(['ip', 'rule', 'show'])).stdout;
    assert.match(rules, new RegExp(`^21000:\\s+from all iif vm_wlan lookup ${record.policyTable}`, 'm'));
    assert.match((await sandbox.host(['ip', 'route', 'show', 'table', '97'])).stdout, /^172\.17\.3\.3 dev vm_wlan/m);
  });

  it('after netd restarts (chains and ip rules flushed) the daemon puts it all back', async () => {
    await restartNetd(sandbox);
    assert.doesNotMatch((await sandbox.host(['ip', 'rule', 'show'])).stdout, /iif vm_wlan/, 'the simulated restart kept our rule');
    assert.equal(
      await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS),
      UPLINK.hostAddress,
      'the guest stayed offline after the netd restart',
    );
  });

  it('with --platform linux the same host leaves a guest offline: the naive rules are not enough', async () => {
    const naive = await sandbox.startGuest();
    const attached = await sandbox.hostAgent(['attach', String(naive.pid), '--platform', 'linux']);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.notEqual((await sandbox.fetchFromGuest(naive, 1000)).exitCode, 0, 'a guest without policy routing got online');
    assert.equal((await sandbox.hostAgent(['detach', String(naive.pid)])).exitCode, 0);
  });

  it("detach leaves netd's chains and ip rules exactly as found", async () => {
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});

describe('an Android host with IPv6: netd keeps both families in one table, and guests follow it', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let guest: Guest;
  let pristine: string;

  const seen6Within = async (ms: number) => {
    const started = Date.now();
    let seen = '';
    while (Date.now() - started < ms && seen !== NETD_IPV6.host) seen = (await sandbox.fetch6FromGuest(guest, 300)).stdout.trim();
    return seen;
  };

  before(async () => {
    sandbox = await Sandbox.create('iptables');
    await makeNetdHost(sandbox, UPLINK.inetAddress, `198.51.100.0/${UPLINK.prefix}`, true);
    await sandbox.startServer6();
    pristine = await sandbox.hostSnapshot();
    await sandbox.startDaemon();
    guest = await sandbox.startGuest();
  });
  after(async () => sandbox?.destroy());

  it("attaches through the daemon; the guest's IPv6 is routed by an IPv6 rule to the network's table, and reaches the server as the host", async () => {
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const record = JSON.parse(await readFile(join(sandbox.stateDir, 'attachments', `${guest.pid}.json`), 'utf8'));
    assert.equal(record.ipv6?.mode, 'nat');
    assert.match(
      (await sandbox.host(['ip', '-6', 'rule', 'show'])).stdout,
      new RegExp(`^21000:\\s+from all iif vm_wlan lookup ${record.policyTable}`, 'm'),
    );
    assert.match(
      (await sandbox.host(['ip', '-6', 'route', 'show', 'table', '97'])).stdout,
      new RegExp(`^${record.ipv6.guestAddress} dev vm_wlan`, 'm'),
    );
    assert.equal(await seen6Within(SETTLE_GUARD_MS), NETD_IPV6.host);
    assert.equal(await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS), UPLINK.hostAddress);
  });

  it('after netd restarts (chains and ip rules of both families flushed) the daemon puts IPv6 back too', async () => {
    await restartNetd(sandbox, true);
    assert.doesNotMatch((await sandbox.host(['ip', '-6', 'rule', 'show'])).stdout, /iif vm_wlan/, 'the simulated restart kept our rule');
    assert.equal(await seen6Within(SETTLE_GUARD_MS), NETD_IPV6.host, "the guest's IPv6 stayed offline after the netd restart");
  });

  it("detach leaves netd's chains, ip rules and sysctls of both families exactly as found", async () => {
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
