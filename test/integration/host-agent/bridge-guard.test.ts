import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { addLan, LAN, lanSettled, seenOnLan, startLanDhcp } from '../../fixtures/lan.js';
import { type Guest, HOST_AGENT, SETTLE_GUARD_MS, Sandbox } from '../../fixtures/sandbox.js';

// A guest on a bridge shares a LAN with the host. By default its port lets
// through only frames from its own MAC, ARP for its own address and IP from
// its own addresses: it cannot take the router's address from the host or
// anyone else. --port-security off makes it a full layer-2 peer again.
// On an iptables host that drops forwarded traffic (Docker's FORWARD policy),
// where br_netfilter hands bridged frames to iptables, the guest's port is let
// through guestnet's chains: its own traffic passes, the lock still holds.

const ON_LAN = ['--pool', LAN.subnet, '--gateway', LAN.router];
const BRIDGED = ['--type', 'veth', '--link', 'br0'];
const SPOOF_MAC = '02:00:5e:00:53:99';
const ROGUE_PREFIX = '2001:db8:77';

for (const firewall of ['nftables', 'iptables'] as const)
  describe(`bridged guests: the port is locked to the guest (${firewall})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let pristine: string;

    const attach = (guest: Guest, args: string[]) =>
      sandbox.host(['node', HOST_AGENT, 'attach', String(guest.pid), '--socket', sandbox.socket, '--state-dir', sandbox.stateDir, ...args]);
    const detach = (guest: Guest) => sandbox.hostAgent(['detach', String(guest.pid)]);

    async function online(args: string[], address?: string): Promise<{ guest: Guest; address: string }> {
      const guest = await sandbox.startGuest();
      const attached = await attach(guest, [...BRIDGED, ...args]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      const expected = address ?? /guest agent confirmed wlan0 (192\.168\.77\.\d+)\//.exec(attached.stdout)?.[1] ?? '?';
      let seen = '';
      for (let i = 0; i < 40 && seen !== expected; i++) seen = await seenOnLan((argv) => guest.exec(argv), 500);
      assert.equal(seen, expected, "the guest's own traffic should pass");
      return { guest, address: expected };
    }

    /** The host's neighbour entry for the router on eth1, after the host has talked to it. */
    async function routerMac(): Promise<string> {
      assert.equal(await seenOnLan((argv) => sandbox.host(argv)), LAN.eth1, 'the host should reach the router');
      const [entry] = JSON.parse((await sandbox.host(['ip', '-j', 'neigh', 'show', LAN.router, 'dev', 'eth1'])).stdout);
      return entry?.lladdr;
    }

    /** ARP replies and announcements that claim the router's address for the guest's MAC, a second apart. */
    async function claimRouter(guest: Guest): Promise<void> {
      const added = await guest.exec(['ip', 'address', 'add', `${LAN.router}/32`, 'dev', 'wlan0']);
      assert.equal(added.exitCode, 0, added.stderr);
      for (const mode of ['-A', '-U']) {
        const sent = await guest.exec(['busybox', 'arping', mode, '-c', '2', '-I', 'wlan0', '-s', LAN.router, LAN.router]);
        assert.match(sent.stdout, /Sent 2 probe/, sent.stderr);
      }
      await guest.exec(['ip', 'address', 'del', `${LAN.router}/32`, 'dev', 'wlan0']);
    }

    /** What the LAN's server sees when the guest connects from `source` ('' when nothing gets through). */
    const seenFrom = (guest: Guest, source: string) =>
      guest.exec([
        'node',
        '-e',
        `const s = require('node:net').connect({ port: ${LAN.port}, host: '${LAN.router}', localAddress: '${source}' });
       let d = ''; s.setTimeout(1500, () => process.exit(3)); s.on('data', (c) => (d += c));
       s.on('end', () => { console.log(d); process.exit(0); }); s.on('error', () => process.exit(2));`,
      ]);

    /**
     * radvd in the guest, advertising a prefix of its own (and no default route): resolves once it
     * has sent `count` advertisements to all nodes, with a function that stops it.
     */
    async function rogueRouter(guest: Guest, count: number): Promise<() => Promise<void>> {
      const config = join(sandbox.dir, `radvd-${guest.pid}.conf`);
      await writeFile(
        config,
        'interface wlan0 {\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 4;\n AdvDefaultLifetime 0;\n' +
          ` prefix ${ROGUE_PREFIX}::/64 {};\n};\n`,
      );
      // In the guest's netns only, so that this process is radvd itself and the kill below ends it.
      const radvd = execa(
        'nsenter',
        [`--net=/proc/${guest.pid}/ns/net`, 'radvd', '-C', config, '-n', '-m', 'stderr', '-d', '5', '-u', 'root', '-p', `${config}.pid`],
        {
          reject: false,
        },
      );
      radvd.catch(() => {});
      let log = '';
      await new Promise<void>((resolve, reject) => {
        const sent = () => (log.match(/sending RA to ff02::1 on wlan0[^\n]*\n(?!.*sendmsg)/g) ?? []).length;
        radvd.stderr?.on('data', (chunk) => {
          log += chunk;
          if (sent() >= count) resolve();
        });
        radvd.once('exit', () => reject(new Error(`radvd exited: ${log}`)));
        setTimeout(() => reject(new Error(`radvd sent fewer than ${count} advertisements: ${log}`)), SETTLE_GUARD_MS).unref();
      });
      return async () => {
        radvd.kill('SIGKILL');
        await radvd;
      };
    }
    const rogueOnHost = async () => (await sandbox.host(['ip', '-6', 'address', 'show', 'dev', 'eth1', 'scope', 'global'])).stdout;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      await addLan(sandbox);
      await startLanDhcp(sandbox);
      pristine = await sandbox.hostSnapshot();
    });
    after(async () => sandbox?.destroy());
    afterEach(async () => {
      await sandbox.host(['ip', 'neigh', 'flush', 'dev', 'eth1']);
      await lanSettled(sandbox);
      assert.equal(await sandbox.hostSnapshot(), pristine, 'the host is not as it was');
    });

    it("a guest's ARP claim on the router's address, a frame from another MAC and IP from another address are dropped", async () => {
      const { guest } = await online([...ON_LAN, '--guest-address', '192.168.77.50'], '192.168.77.50');
      const before = await routerMac();
      await claimRouter(guest);
      assert.equal(await routerMac(), before, "the host's neighbour entry for the router changed");

      // Another source MAC: a link of the guest's own behind its end. The bridges never learn it.
      const spoof = await guest.exec([
        'sh',
        '-c',
        `ip link add spoof link wlan0 address ${SPOOF_MAC} type macvlan && ip link set dev spoof up && ` +
          `busybox arping -D -c 2 -I spoof ${LAN.router}`,
      ]);
      assert.match(spoof.stdout, /Sent 2 probe/, spoof.stderr);
      const learned = await Promise.all([
        sandbox.host(['bridge', 'fdb', 'show', 'br', 'br0']),
        sandbox.inet(['bridge', 'fdb', 'show', 'br', 'lanbr']),
      ]);
      assert.doesNotMatch(learned.map((r) => r.stdout).join('\n'), new RegExp(SPOOF_MAC), 'a frame from another MAC crossed the port');
      await guest.exec(['ip', 'link', 'del', 'spoof']);

      // Another source address, IPv4 and IPv6; the guest's own still work.
      await guest.exec(['ip', 'address', 'add', '192.168.77.77/24', 'dev', 'wlan0']);
      assert.equal((await seenFrom(guest, '192.168.77.77')).stdout.trim(), '', 'IP from another address reached the router');
      assert.equal((await seenFrom(guest, '192.168.77.50')).stdout.trim(), '192.168.77.50');
      const eth1 = JSON.parse((await sandbox.host(['ip', '-j', '-6', 'address', 'show', 'dev', 'eth1', 'scope', 'link'])).stdout)[0]
        .addr_info[0].local;
      const ping6 = (source?: string) =>
        guest.exec(['busybox', 'ping6', '-c', '1', '-W', '2', ...(source ? ['-I', source] : []), `${eth1}%wlan0`]);
      assert.equal((await ping6()).exitCode, 0, "the guest's own link-local address should pass");
      await guest.exec(['ip', '-6', 'address', 'add', 'fe80::66/64', 'dev', 'wlan0', 'nodad']);
      assert.notEqual((await ping6('fe80::66')).exitCode, 0, 'IPv6 from another address crossed the port');

      // A router advertisement: the host would take the guest's prefix, and with it the guest as a router.
      const stop = await rogueRouter(guest, 2);
      await stop();
      assert.doesNotMatch(await rogueOnHost(), new RegExp(ROGUE_PREFIX), "the guest's router advertisement reached the host");

      assert.equal((await detach(guest)).exitCode, 0);
      await guest.kill();
    });

    it("a DHCP guest may send from its lease, learned from the LAN's server, and from nothing else", async () => {
      const { guest, address } = await online(['--dhcp']);
      assert.match(address, /^192\.168\.77\.1[0-4]\d$/);
      await guest.exec(['ip', 'address', 'add', '192.168.77.78/24', 'dev', 'wlan0']);
      assert.equal((await seenFrom(guest, '192.168.77.78')).stdout.trim(), '');
      assert.equal((await seenFrom(guest, address)).stdout.trim(), address);
      const before = await routerMac();
      await claimRouter(guest);
      assert.equal(await routerMac(), before);
      assert.equal((await detach(guest)).exitCode, 0);
      await guest.kill();
    });

    it("the daemon puts back a lock that someone removed (a firewall reload), and the guest's claims stay dropped", async () => {
      const daemon = await sandbox.startDaemon();
      const { guest } = await online([...ON_LAN, '--guest-address', '192.168.77.53'], '192.168.77.53');
      const table = `guestnet_port_${guest.pid}`;
      const tables = async () => (await sandbox.host(['nft', 'list', 'tables', 'bridge'])).stdout;
      assert.match(await tables(), new RegExp(`table bridge ${table}\n?`));
      assert.equal((await sandbox.host(['nft', 'delete', 'table', 'bridge', table])).exitCode, 0);
      let listed = '';
      for (let waited = 0; waited < SETTLE_GUARD_MS && !listed.includes(table); waited += 200) {
        await new Promise((r) => setTimeout(r, 200));
        listed = await tables();
      }
      assert.ok(listed.includes(table), 'the lock was not put back');
      const before = await routerMac();
      await claimRouter(guest);
      assert.equal(await routerMac(), before);
      assert.equal((await detach(guest)).exitCode, 0);
      await guest.kill();
      await daemon.stop();
    });

    it("a host without nft (Android's) cannot lock the port: attach says so, exits 5 and changes nothing", async () => {
      // Every tool attach may use but nft.
      const bin = join(sandbox.dir, 'bin-without-nft');
      await mkdir(bin);
      for (const tool of [
        'ip',
        'nsenter',
        'node',
        'iptables',
        'iptables-save',
        'iptables-restore',
        'ip6tables-save',
        'ip6tables-restore',
      ]) {
        const found = (await execa('sh', ['-c', `command -v ${tool}`])).stdout.trim();
        await symlink(found, join(bin, tool));
      }
      const guest = await sandbox.startGuest({ agent: false });
      const args = [...BRIDGED, ...ON_LAN, '--no-wait', '--firewall', 'iptables'];
      const result = await sandbox.host([
        'env',
        `PATH=${bin}`,
        'node',
        HOST_AGENT,
        'attach',
        String(guest.pid),
        '--state-dir',
        sandbox.stateDir,
        ...args,
      ]);
      assert.equal(result.exitCode, 5, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(
        result.stderr,
        /'nft' was not found in PATH; install the 'nftables' package: it locks a bridged guest's port .*--port-security off/,
      );
      assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
      const open = await sandbox.host([
        'env',
        `PATH=${bin}`,
        'node',
        HOST_AGENT,
        'attach',
        String(guest.pid),
        '--state-dir',
        sandbox.stateDir,
        ...args,
        '--port-security',
        'off',
      ]);
      assert.equal(open.exitCode, 0, open.stderr);
      assert.equal((await detach(guest)).exitCode, 0);
      await guest.kill();
    });

    it('--port-security off: the guest is a full layer-2 peer again, and can take the router from the host', async () => {
      const { guest } = await online([...ON_LAN, '--guest-address', '192.168.77.52', '--port-security', 'off'], '192.168.77.52');
      const before = await routerMac();
      await claimRouter(guest);
      let after = before;
      for (let waited = 0; waited < SETTLE_GUARD_MS && after === before; waited += 200) {
        await new Promise((r) => setTimeout(r, 200));
        after = JSON.parse((await sandbox.host(['ip', '-j', 'neigh', 'show', LAN.router, 'dev', 'eth1'])).stdout)[0]?.lladdr;
      }
      assert.notEqual(after, before, 'without port security the claim should reach the host');
      const stop = await rogueRouter(guest, 1);
      let learned = '';
      for (let waited = 0; waited < SETTLE_GUARD_MS && !learned.includes(ROGUE_PREFIX); waited += 200) {
        await new Promise((r) => setTimeout(r, 200));
        learned = await rogueOnHost();
      }
      await stop();
      assert.match(learned, new RegExp(ROGUE_PREFIX), "without port security the guest's router advertisement should reach the host");
      // Every LAN link of the host took the prefix: it goes, with the routes the advertisement made.
      await sandbox.host([
        'sh',
        '-c',
        `ip -6 address flush to ${ROGUE_PREFIX}::/64; ip -6 route flush root ${ROGUE_PREFIX}::/64; ip -6 route flush proto ra`,
      ]);
      assert.equal((await detach(guest)).exitCode, 0);
      await guest.kill();
    });
  });
