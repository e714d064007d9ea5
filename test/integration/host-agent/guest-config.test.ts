import assert from 'node:assert/strict';
import type { GuestStatus } from '@guestnet/host-agent';
import { startClient, stopClients } from '../../fixtures/dhcp-guests.js';
import { type Daemon, type FirewallName, type Guest, HOST_AGENT, NODE, Sandbox, SETTLE_GUARD_MS, UPLINK } from '../../fixtures/sandbox.js';

// Guests with no guest agent (issue 29), attached through the daemon:
// `--guest-config dhcp` gives a stock image's own DHCP client (busybox
// udhcpc) its address, default route, DNS (the daemon's forwarder) and MTU;
// `--guest-config host` configures a guest that runs only `sleep` from the
// host. A LAN host's DISCOVER gets nothing, and nothing DHCP leaves by the
// uplink. Both firewall backends: the firewall is what lets the client in.

const GATEWAY = '172.17.3.2';
const MTU = 1400;
const UPSTREAM = { address: '203.0.113.53', answer: '192.0.2.80' };

// One A record for any query: enough DNS to see that the guest resolves through the daemon's forwarder.
const DNS_SERVER = `
const d = require('node:dgram').createSocket('udp4');
d.on('message', (q, peer) => {
  let end = 12;
  while (q[end]) end += q[end] + 1;
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${UPSTREAM.answer.split('.').join(', ')}]);
  d.send(Buffer.concat([header, q.subarray(12, end + 5), record]), peer.port, peer.address);
});
d.bind(53, '${UPSTREAM.address}', () => console.log('ready'));`;

const LOOKUP = `
const r = new (require('node:dns').promises.Resolver)({ timeout: 1500, tries: 2 });
r.setServers(['${GATEWAY}']);
r.resolve4('device.example').then((a) => console.log(JSON.stringify(a)), (e) => console.log(e.code));`;

/** Counts every DHCP packet on the LAN side of the uplink, and every one leaving the host by it: there must be none. */
const LAN_COUNTER = `table netdev gn_lan_watch {
  chain ingress { type filter hook ingress device uplink0 priority 0; udp sport 67 counter; udp dport 68 counter; }
}`;

/** A one-shot udhcpc: exits 0 with a lease, non-zero after its three tries. */
const udhcpcOnce = (where: (argv: string[]) => Promise<{ exitCode: number; stderr: string }>, link: string) =>
  where(['busybox', 'udhcpc', '-f', '-q', '-n', '-i', link, '-s', '/bin/true', '-t', '3', '-T', '1']);

for (const firewall of ['nftables', 'iptables'] as FirewallName[]) {
  describe(`guests with no agent (${firewall}): --guest-config dhcp and host`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let pristine: string;
    const attach = (guest: Guest, args: string[]) =>
      sandbox.host([NODE, HOST_AGENT, 'attach', String(guest.pid), '--socket', sandbox.socket, '--state-dir', sandbox.stateDir, ...args]);
    const dhcpArgs = ['--guest-name', 'eth0', '--guest-config', 'dhcp', '--mtu', String(MTU)];
    const status = async () => JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as GuestStatus[];
    const statusOf = async (guest: Guest) => (await status()).find((g) => g.pid === guest.pid);

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      assert.equal((await sandbox.inet(['nft', '-f', '-'], LAN_COUNTER)).exitCode, 0);
      await sandbox.inet(['ip', 'address', 'add', `${UPSTREAM.address}/32`, 'dev', 'lo']);
      const resolver = sandbox.serveIn(sandbox.inetNs, [NODE, '-e', DNS_SERVER]);
      resolver.catch(() => {});
      await new Promise((resolve) => resolver.stdout?.once('data', resolve));
      await sandbox.setHostResolvConf(`nameserver ${UPSTREAM.address}\n`);
      pristine = await sandbox.hostSnapshot();
    });
    afterEach(stopClients);
    after(async () => {
      await stopClients();
      await daemon?.stop();
      await sandbox?.destroy();
    });

    it('dhcp without a daemon is refused in one line, and nothing is changed', async () => {
      const guest = await sandbox.startGuest({ agent: false });
      const result = await attach(guest, dhcpArgs);
      assert.equal(result.exitCode, 2, result.stderr);
      assert.match(result.stderr.trim(), /^host-agent: --guest-config dhcp needs the daemon: no host-agent serve serves .*$/);
      assert.equal(await sandbox.hostSnapshot(), pristine);
      await guest.kill();
    });

    it('host without a daemon: the one-shot attach configures the guest from the host, and detach leaves nothing', async () => {
      const guest = await sandbox.startGuest({ agent: false });
      const attached = await attach(guest, ['--guest-name', 'eth0', '--guest-config', 'host', '--dns', UPSTREAM.address]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.match(attached.stdout, /guest side configured by the host/);
      assert.match((await guest.exec(['ip', '-4', 'route', 'show', 'default'])).stdout, new RegExp(`^default via ${GATEWAY} dev eth0`));
      assert.equal(await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS), UPLINK.hostAddress);
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      assert.equal(await sandbox.hostSnapshot(), pristine);
      await guest.kill();
      daemon = await sandbox.startDaemon();
    });

    let dhcpGuest: Guest;
    let address: string;

    it('dhcp: udhcpc in a guest with no agent gets its address, default route, DNS through the forwarder and MTU; status shows the lease', async () => {
      dhcpGuest = await sandbox.startGuest({ agent: false });
      const attached = await attach(dhcpGuest, [...dhcpArgs, '--json']);
      assert.equal(attached.exitCode, 0, attached.stderr);
      const result = JSON.parse(attached.stdout);
      assert.equal(result.guest, 'dhcp-served');
      assert.equal(result.attachment.guestIf, 'eth0');
      assert.equal(result.attachment.guestConfig, 'dhcp');
      address = result.attachment.guestAddress;
      assert.equal((await statusOf(dhcpGuest))?.dhcp?.state, 'none');
      // Its client has not asked yet: doctor says so, and what to do.
      const doctor = JSON.parse((await sandbox.hostAgent(['doctor', '--json'])).stdout).checks as Array<Record<string, string>>;
      const silent = doctor.find((f) => f.check === 'dhcp');
      assert.equal(silent?.status, 'warn', JSON.stringify(silent));
      assert.match(silent?.detail ?? '', /never asked for its lease since the daemon started/);
      assert.match(silent?.fix ?? '', /run a DHCP client on eth0 in the guest/);

      const client = await startClient(sandbox, dhcpGuest, 'udhcpc');
      const bound = await client.waitFor(/^bound /, SETTLE_GUARD_MS);
      const mask = /mask=(16|255\.255\.0\.0)/;
      assert.match(bound, new RegExp(`ip=${address.replace(/\./g, '\\.')} `));
      assert.match(bound, mask);
      assert.match(bound, new RegExp(`router=${GATEWAY} dns=${GATEWAY} mtu=${MTU} `));
      const route = (await dhcpGuest.exec(['ip', '-4', 'route', 'show', 'default'])).stdout.trim();
      assert.equal(route, `default via ${GATEWAY} dev eth0`);
      const link = JSON.parse((await dhcpGuest.exec(['ip', '-j', 'link', 'show', 'dev', 'eth0'])).stdout)[0];
      assert.equal(link.mtu, MTU);
      // DNS: the resolver it was given is the daemon's forwarder, which asks the host's upstream.
      assert.equal((await dhcpGuest.exec([NODE, '-e', LOOKUP])).stdout.trim(), JSON.stringify([UPSTREAM.answer]));
      // And it is online: the server out on the internet sees it behind the host's NAT.
      assert.equal(await sandbox.seenFromGuestWithin(dhcpGuest, UPLINK.hostAddress, SETTLE_GUARD_MS), UPLINK.hostAddress);
      const seen = await statusOf(dhcpGuest);
      assert.equal(seen?.guestConfig, 'dhcp');
      assert.equal(seen?.dhcp?.state, 'bound');
      assert.ok(seen?.dhcp?.expiresAt, JSON.stringify(seen?.dhcp));
      const asked = JSON.parse((await sandbox.hostAgent(['doctor', '--json'])).stdout).checks as Array<Record<string, string>>;
      assert.equal(asked.find((f) => f.check === 'dhcp')?.status, 'ok');
      const table = (await sandbox.hostAgent(['status'])).stdout;
      assert.match(table, new RegExp(`pid ${dhcpGuest.pid}: DHCP lease ${address.replace(/\./g, '\\.')} bound, expires `));
    });

    it('dhcp: a renewal after a daemon restart keeps the address; RELEASE ends the lease', async () => {
      const client = await startClient(sandbox, dhcpGuest, 'udhcpc');
      await client.waitFor(/^bound /, SETTLE_GUARD_MS);
      await daemon.stop();
      daemon = await sandbox.startDaemon();
      client.process.kill('SIGUSR1');
      const renewed = await client.waitFor(/^renew /, SETTLE_GUARD_MS);
      assert.match(renewed, new RegExp(`ip=${address.replace(/\./g, '\\.')} `));
      assert.equal((await statusOf(dhcpGuest))?.dhcp?.state, 'bound');
      client.process.kill('SIGUSR2');
      await client.waitFor(/^deconfig /, SETTLE_GUARD_MS);
      let state = '';
      for (let i = 0; i < 100 && state !== 'released'; i++, await new Promise((r) => setTimeout(r, 50)))
        state = (await statusOf(dhcpGuest))?.dhcp?.state ?? '';
      assert.equal(state, 'released');
    });

    it("dhcp: ISC dhclient, Debian's client, gets the same lease, route, DNS and MTU", async () => {
      const client = await startClient(sandbox, dhcpGuest, 'dhclient');
      const bound = await client.waitFor(/^(BOUND|REBOOT) /, SETTLE_GUARD_MS);
      assert.match(
        bound,
        new RegExp(`ip=${address.replace(/\./g, '\\.')} mask=255\\.255\\.0\\.0 router=${GATEWAY} dns=${GATEWAY} mtu=${MTU}`),
      );
      assert.equal((await client.resolvConf()).trim(), `nameserver ${GATEWAY}`);
      assert.equal((await dhcpGuest.exec([NODE, '-e', LOOKUP])).stdout.trim(), JSON.stringify([UPSTREAM.answer]));
      assert.equal((await statusOf(dhcpGuest))?.dhcp?.state, 'bound');
    });

    it("a LAN host's DISCOVER on the uplink gets nothing, even with a guest's MAC; no DHCP packet crosses the uplink", async () => {
      const lan = await udhcpcOnce((argv) => sandbox.inet(argv), 'uplink0');
      assert.notEqual(lan.exitCode, 0, lan.stderr);
      const mac = (await statusOf(dhcpGuest))?.mac as string;
      const spoof = `link add lanspoof link uplink0 address ${mac} type macvlan mode bridge\nlink set dev lanspoof up\n`;
      assert.equal((await sandbox.inet(['ip', '-batch', '-'], spoof)).exitCode, 0);
      const spoofed = await udhcpcOnce((argv) => sandbox.inet(argv), 'lanspoof');
      await sandbox.inet(['ip', 'link', 'del', 'lanspoof']);
      assert.notEqual(spoofed.exitCode, 0, spoofed.stderr);
      const counted = (await sandbox.inet(['nft', 'list', 'table', 'netdev', 'gn_lan_watch'])).stdout;
      const counts = [...counted.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      assert.deepEqual(counts, [0, 0]);
    });

    it("a dhcp guest that takes another dhcp guest's MAC gets no lease; with its own it gets its own address only", async () => {
      const hostile = await sandbox.startGuest({ agent: false });
      const attached = await attach(hostile, [...dhcpArgs, '--json']);
      assert.equal(attached.exitCode, 0, attached.stderr);
      const own = JSON.parse(attached.stdout).attachment.guestAddress as string;
      const victimMac = (await statusOf(dhcpGuest))?.mac as string;
      await hostile.exec(['ip', 'link', 'set', 'dev', 'eth0', 'address', victimMac]);
      const stolen = await udhcpcOnce((argv) => hostile.exec(argv), 'eth0');
      assert.notEqual(stolen.exitCode, 0, `it got a lease with the victim's MAC: ${stolen.stderr}`);
      await hostile.exec(['ip', 'link', 'set', 'dev', 'eth0', 'address', (await statusOf(hostile))?.mac as string]);
      const fair = await udhcpcOnce((argv) => hostile.exec(argv), 'eth0');
      assert.equal(fair.exitCode, 0, fair.stderr);
      assert.match(fair.stderr, new RegExp(`lease of ${own.replace(/\./g, '\\.')} obtained`));
      assert.notEqual(own, address);
      assert.equal((await sandbox.hostAgent(['detach', String(hostile.pid)])).exitCode, 0);
      await hostile.kill();
    });

    it('dhcp --wait-lease: attach returns once the guest took its lease; without a client it times out and rolls back', async () => {
      const guest = await sandbox.startGuest({ agent: false });
      const waiting = attach(guest, [...dhcpArgs, '--wait-lease']);
      let link = 1;
      for (let i = 0; i < 400 && link !== 0; i++, await new Promise((r) => setTimeout(r, 25)))
        link = (await guest.exec(['ip', 'link', 'show', 'dev', 'eth0'])).exitCode;
      assert.equal(link, 0, 'the guest link eth0 appears while attach waits');
      await startClient(sandbox, guest, 'udhcpc');
      const attached = await waiting;
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.match(attached.stdout, /the guest's DHCP client took 172\.17\.\d+\.\d+/);

      const silent = await sandbox.startGuest({ agent: false });
      const timedOut = await attach(silent, [...dhcpArgs, '--wait-lease', '--timeout', '3000']);
      assert.equal(timedOut.exitCode, 10, timedOut.stderr);
      assert.match(timedOut.stderr, /DHCP client took no lease within 3000 ms; the host side was rolled back/);
      assert.equal((await silent.exec(['ip', 'link', 'show', 'dev', 'eth0'])).exitCode, 1);
      assert.equal(await statusOf(silent), undefined);
      await silent.kill();
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      await guest.kill();
    });

    it('two dhcp guests in one attach request (group commit) each get their own lease', async () => {
      const farm = [await sandbox.startGuest({ agent: false }), await sandbox.startGuest({ agent: false })];
      const pids = farm.map((g) => String(g.pid));
      const attached = await sandbox.host([
        NODE,
        HOST_AGENT,
        'attach',
        ...pids,
        '--socket',
        sandbox.socket,
        '--state-dir',
        sandbox.stateDir,
        ...dhcpArgs,
        '--json',
      ]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      const results = JSON.parse(attached.stdout).results as Array<{ ok: boolean; result: { attachment: { guestAddress: string } } }>;
      assert.deepEqual(
        results.map((r) => r.ok),
        [true, true],
        attached.stdout,
      );
      for (const [i, guest] of farm.entries()) {
        const own = results[i]?.result.attachment.guestAddress ?? '';
        const leased = await udhcpcOnce((argv) => guest.exec(argv), 'eth0');
        assert.equal(leased.exitCode, 0, leased.stderr);
        assert.match(leased.stderr, new RegExp(`lease of ${own.replace(/\./g, '\\.')} obtained`));
        assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
        await guest.kill();
      }
    });

    it('host: a guest that runs only sleep is configured from the host and is online; status says its DNS is the caller', async () => {
      const guest = await sandbox.startGuest({ agent: false });
      const attached = await attach(guest, ['--guest-name', 'eth0', '--guest-config', 'host', '--mtu', String(MTU)]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.match(attached.stdout, /guest side configured by the host; its DNS is the caller's/);
      const addresses = JSON.parse((await guest.exec(['ip', '-4', '-j', 'address', 'show', 'dev', 'eth0'])).stdout)[0];
      assert.equal(addresses.mtu, MTU);
      assert.match(addresses.addr_info[0].local, /^172\.17\.3\.\d+$/);
      assert.match((await guest.exec(['ip', '-4', 'route', 'show', 'default'])).stdout, new RegExp(`^default via ${GATEWAY} dev eth0`));
      assert.equal(await sandbox.seenFromGuestWithin(guest, UPLINK.hostAddress, SETTLE_GUARD_MS), UPLINK.hostAddress);
      assert.equal((await guest.exec([NODE, '-e', LOOKUP])).stdout.trim(), JSON.stringify([UPSTREAM.answer]));
      const seen = await statusOf(guest);
      assert.equal(seen?.guestConfig, 'host');
      assert.equal(seen?.agent, 'none');
      assert.match(
        (await sandbox.hostAgent(['status'])).stdout,
        new RegExp(`pid ${guest.pid}: configured by the host; its DNS is the caller's`),
      );
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      await guest.kill();
    });

    it('detach of the last dhcp guest closes the DHCP server, and leaves the host as it was', async () => {
      const port67 = async () => (await sandbox.host(['cat', '/proc/net/udp'])).stdout.includes('00000000:0043');
      assert.equal(await port67(), true, 'the daemon serves DHCP while a dhcp guest is attached');
      assert.equal((await sandbox.hostAgent(['detach', String(dhcpGuest.pid)])).exitCode, 0);
      let open = true;
      for (let end = Date.now() + SETTLE_GUARD_MS; Date.now() < end && open; await new Promise((r) => setTimeout(r, 50)))
        open = await port67();
      assert.equal(open, false, 'port 67 is let go with the last dhcp guest');
      await daemon.stop();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
}
