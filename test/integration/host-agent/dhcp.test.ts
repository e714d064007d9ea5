import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assignmentOf } from '@guestnet/guest-agent';
import { addLan, lanSettled, seenOnLan, startLanDhcp } from '../../fixtures/lan.js';
import { type Guest, HOST_AGENT, Sandbox } from '../../fixtures/sandbox.js';

// --dhcp on the network types that sit on a LAN: the guest takes its lease
// from the LAN's DHCP server, through the daemon, and the LAN's server sees
// the leased address. After detach the host is byte-identical.

const BRIDGED = ['--type', 'veth', '--link', 'br0'];
const leasedIn = (stdout: string, link = 'wlan0') =>
  new RegExp(`guest agent confirmed ${link} (192\\.168\\.77\\.1\\d\\d)/24 via 192\\.168\\.77\\.1 `).exec(stdout)?.[1];

async function onLan(guest: Guest, address: string): Promise<void> {
  let seen = '';
  for (let i = 0; i < 20 && seen !== address; i++) seen = await seenOnLan((argv) => guest.exec(argv), 500);
  assert.equal(seen, address);
}

describe('network types with DHCP: the guest takes a lease from the LAN, through the daemon', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let pristine: string;
  const attach = (guest: Guest, args: string[]) =>
    sandbox.host([
      'node',
      HOST_AGENT,
      'attach',
      String(guest.pid),
      '--socket',
      sandbox.socket,
      '--state-dir',
      sandbox.stateDir,
      ...args,
      '--dhcp',
    ]);

  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
    await startLanDhcp(sandbox);
    pristine = await sandbox.hostSnapshot();
    await sandbox.startDaemon();
  });
  after(async () => sandbox?.destroy());

  async function detachToPristine(guest: Guest): Promise<void> {
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  }

  for (const args of [BRIDGED, ['--type', 'macvlan', '--link', 'eth1']]) {
    it(`${args[1]} on ${args[3]} with --dhcp: the lease is applied, the server sees it, status shows it`, async () => {
      const guest = await sandbox.startGuest();
      const attached = await attach(guest, args);
      assert.equal(attached.exitCode, 0, attached.stderr);
      const leased = leasedIn(attached.stdout);
      assert.ok(leased, attached.stdout);
      await onLan(guest, leased);
      const addresses = JSON.parse((await guest.exec(['ip', '-4', '-j', 'address', 'show', 'dev', 'wlan0'])).stdout)[0]?.addr_info.map(
        (a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`,
      );
      assert.deepEqual(addresses, [`${leased}/24`], "the lease is the link's only IPv4 address");
      const status = (await sandbox.hostAgent(['status'])).stdout;
      assert.match(
        status,
        new RegExp(`pid ${guest.pid}: .*DHCP lease ${leased.replace(/\./g, '\\.')}/24 via 192\\.168\\.77\\.1, dns 192\\.168\\.77\\.1`),
      );
      await detachToPristine(guest);
    });
  }

  it("an Android guest: ipconfig.txt gives the link DHCP, the framework's IpClient takes the lease, the agent reports it", async () => {
    const ipconfig = join(sandbox.dir, 'android-ipconfig.txt');
    const guest = await sandbox.startGuest({ agentArgs: ['--platform', 'android', '--ipconfig', ipconfig] });
    const attaching = attach(guest, [...BRIDGED, '--guest-name', 'eth0']);
    // EthernetService's part, played by busybox: once ipconfig.txt says DHCP
    // for eth0, take a lease and put the route in a per-network table with a
    // rule, as netd does.
    for (
      let i = 0;
      i < 100 &&
      (await readFile(ipconfig)
        .then((file) => assignmentOf(file, 'eth0'))
        .catch(() => undefined)) !== 'DHCP';
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(assignmentOf(await readFile(ipconfig), 'eth0'), 'DHCP');
    const script = join(sandbox.dir, 'ipclient.sh');
    await writeFile(
      script,
      '#!/bin/sh\n[ "$1" = bound ] || exit 0\nip address add "$ip/$mask" dev "$interface"\n' +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
        'ip route add default via "${router%% *}" dev "$interface" table 1001\nip rule add from all lookup 1001 pref 13000\n',
      { mode: 0o755 },
    );
    const ipclient = await guest.exec(['busybox', 'udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', script, '-t', '10', '-T', '1']);
    assert.equal(ipclient.exitCode, 0, ipclient.stderr);
    const attached = await attaching;
    assert.equal(attached.exitCode, 0, attached.stderr);
    const leased = leasedIn(attached.stdout, 'eth0');
    assert.ok(leased, attached.stdout);
    await onLan(guest, leased);
    assert.match(
      (await sandbox.hostAgent(['status'])).stdout,
      new RegExp(`pid ${guest.pid}: .*DHCP lease ${leased.replace(/\./g, '\\.')}/24 via 192\\.168\\.77\\.1`),
    );
    const routes = (await guest.exec(['ip', '-4', 'route', 'show', 'table', 'main'])).stdout;
    assert.doesNotMatch(routes, /default/, 'the agent added a route of its own beside the framework');
    await detachToPristine(guest);
  });
});

/**
 * busybox udhcpd on the LAN with a lease of `seconds`: dnsmasq's shortest
 * is two minutes. Resolves to a count of its OFFERs and ACKs so far: a
 * renewal is an ACK without an OFFER.
 */
async function startShortLeases(sandbox: Sandbox, seconds: number): Promise<() => { offers: number; acks: number }> {
  const config = join(sandbox.dir, 'udhcpd.conf');
  const settings = [
    'start 192.168.77.150',
    'end 192.168.77.199',
    'interface lanbr',
    'max_leases 50',
    `lease_file ${sandbox.dir}/udhcpd.leases`,
    `pidfile ${sandbox.dir}/udhcpd.pid`,
  ];
  const options = ['subnet 255.255.255.0', 'router 192.168.77.1', 'dns 192.168.77.1', `lease ${seconds}`].map(
    (option) => `option ${option}`,
  );
  await writeFile(config, [...settings, ...options, ''].join('\n'));
  await writeFile(join(sandbox.dir, 'udhcpd.leases'), '');
  const server = sandbox.serveIn(sandbox.inetNs, ['busybox', 'udhcpd', '-f', config]);
  server.catch(() => {});
  let log = '';
  server.stderr?.on('data', (chunk) => (log += chunk));
  server.stdout?.on('data', (chunk) => (log += chunk));
  await new Promise((r) => setTimeout(r, 300));
  return () => ({ offers: (log.match(/sending OFFER/g) ?? []).length, acks: (log.match(/sending ACK/g) ?? []).length });
}

describe('a DHCP lease is renewed across a daemon restart', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
  });
  after(async () => sandbox?.destroy());

  it('udhcpc keeps renewing in the guest while the daemon restarts, and the new daemon shows the lease', async () => {
    // udhcpc takes no lease shorter than 16 s and renews it near its end.
    const sent = await startShortLeases(sandbox, 16);
    const pristine = await sandbox.hostSnapshot();
    let daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest();
    const attached = await sandbox.host([
      'node',
      HOST_AGENT,
      'attach',
      String(guest.pid),
      '--socket',
      sandbox.socket,
      '--state-dir',
      sandbox.stateDir,
      ...BRIDGED,
      '--dhcp',
    ]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const leased = /confirmed wlan0 (192\.168\.77\.1\d\d)\/24/.exec(attached.stdout)?.[1];
    assert.ok(leased, attached.stdout);
    await daemon.stop();
    daemon = await sandbox.startDaemon();
    const before = sent();
    for (let i = 0; i < 300 && sent().acks === before.acks; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(sent().acks > before.acks, 'udhcpd acknowledged no renewal within 30 s of the restart');
    assert.equal(sent().offers, before.offers, 'the guest lost its lease and took a new one instead of renewing');
    await onLan(guest, leased);
    assert.match(
      (await sandbox.hostAgent(['status'])).stdout,
      new RegExp(`pid ${guest.pid}: .*DHCP lease ${leased.replace(/\./g, '\\.')}/24`),
    );
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await daemon.stop();
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
