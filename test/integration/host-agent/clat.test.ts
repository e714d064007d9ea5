import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Guest, Sandbox, SERVER, SERVER6, UPLINK } from '../../fixtures/sandbox.js';

// A carrier's IPv6-only network with 464XLAT, as on many phones: the host's
// uplink has IPv6 only, its IPv4 goes through a CLAT (tayga, on a v4-*
// interface, as Android's clatd names it), and the operator runs a NAT64
// (tayga again, in the "internet" netns). guestnet follows the IPv4 default
// route onto the CLAT interface, and the guest's IPv4 reaches an IPv4-only
// server, which sees an address of the NAT64's pool.

const V6 = { host: '2001:db8:100::2', inet: '2001:db8:100::1', prefix: 64 };
// Documentation addresses throughout: the /96 is not 64:ff9b::, so the IPv4 side need not be public.
const NAT64 = { prefix: '2001:db8:64::/96', pool: '203.0.113.128/26', tayga4: '203.0.113.129', tayga6: '2001:db8:100::64' };
// The CLAT's IPv6 side: a /64 the operator routes to the host, as a carrier routes one to a phone.
const CLAT = {
  name: 'v4-wlan0',
  address4: '192.0.2.4',
  tayga4: '192.0.2.1',
  address6: '2001:db8:c1a7::4',
  tayga6: '2001:db8:c1a7::1',
  routed: '2001:db8:c1a7::/64',
};

/** An address of the NAT64's pool: what the IPv4 server sees. */
const POOLED = /^203\.0\.113\.1(2[89]|[3-8]\d|9[01])$/;

const taygaConf = (lines: string[], dataDir: string) => `${[...lines, `data-dir ${dataDir}`].join('\n')}\n`;

async function must(run: Promise<{ exitCode: number; stderr: string }>, what: string): Promise<void> {
  const result = await run;
  assert.equal(result.exitCode, 0, `${what}: ${result.stderr}`);
}

describe('an IPv6-only uplink with a CLAT (464XLAT): IPv4 guests through the v4-* interface', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let guest: Guest;

  before(async () => {
    sandbox = await Sandbox.create();
    const dir = join(sandbox.dir, 'tayga');
    await mkdir(join(dir, 'nat64'), { recursive: true });
    await mkdir(join(dir, 'clat'), { recursive: true });
    const nat64Conf = join(dir, 'nat64.conf');
    const clatConf = join(dir, 'clat.conf');
    await writeFile(
      nat64Conf,
      taygaConf(
        [
          'tun-device nat64',
          `ipv4-addr ${NAT64.tayga4}`,
          `ipv6-addr ${NAT64.tayga6}`,
          `prefix ${NAT64.prefix}`,
          `dynamic-pool ${NAT64.pool}`,
        ],
        join(dir, 'nat64'),
      ),
    );
    await writeFile(
      clatConf,
      taygaConf(
        [
          `tun-device ${CLAT.name}`,
          `ipv4-addr ${CLAT.tayga4}`,
          `ipv6-addr ${CLAT.tayga6}`,
          `prefix ${NAT64.prefix}`,
          `map ${CLAT.address4} ${CLAT.address6}`,
        ],
        join(dir, 'clat'),
      ),
    );

    // The operator: IPv6 to the host, and a NAT64 in front of the IPv4 internet.
    const inet = (argv: string[]) => sandbox.inet(argv);
    await must(inet(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']), 'operator forwarding');
    await must(inet(['ip', '-6', 'address', 'add', `${V6.inet}/${V6.prefix}`, 'dev', 'uplink0', 'nodad']), 'operator address');
    await must(inet(['ip', '-6', 'route', 'add', CLAT.routed, 'via', V6.host]), 'route to the CLAT');
    await must(inet(['tayga', '--mktun', '-c', nat64Conf]), 'NAT64 tun');
    await must(inet(['ip', 'link', 'set', 'dev', 'nat64', 'up']), 'NAT64 up');
    await must(inet(['ip', 'route', 'add', NAT64.pool, 'dev', 'nat64']), 'NAT64 pool route');
    await must(inet(['ip', '-6', 'route', 'add', NAT64.prefix, 'dev', 'nat64']), 'NAT64 prefix route');
    sandbox.serveIn(sandbox.inetNs, ['tayga', '--nodetach', '-c', nat64Conf]).catch(() => {});

    // The host: its uplink loses IPv4 and gains IPv6; IPv4 leaves through the CLAT.
    const host = (argv: string[]) => sandbox.host(argv);
    await must(host(['sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1']), 'host IPv6 forwarding');
    await must(host(['ip', 'route', 'del', 'default']), 'host IPv4 default route');
    await must(host(['ip', 'address', 'del', `${UPLINK.hostAddress}/${UPLINK.prefix}`, 'dev', 'wlan0']), 'host IPv4 address');
    await must(host(['ip', '-6', 'address', 'add', `${V6.host}/${V6.prefix}`, 'dev', 'wlan0', 'nodad']), 'host IPv6 address');
    await must(host(['ip', '-6', 'route', 'add', 'default', 'via', V6.inet]), 'host IPv6 default route');
    await must(host(['tayga', '--mktun', '-c', clatConf]), 'CLAT tun');
    await must(host(['ip', 'link', 'set', 'dev', CLAT.name, 'up']), 'CLAT up');
    await must(host(['ip', 'address', 'add', `${CLAT.address4}/32`, 'dev', CLAT.name]), 'CLAT IPv4 address');
    await must(host(['ip', 'route', 'add', 'default', 'dev', CLAT.name]), 'IPv4 default route via the CLAT');
    await must(host(['ip', '-6', 'route', 'add', `${CLAT.address6}/128`, 'dev', CLAT.name]), 'CLAT IPv6 route');
    sandbox.serveIn(sandbox.hostNs, ['tayga', '--nodetach', '-c', clatConf]).catch(() => {});

    // The host itself reaches the IPv4 server through both translators before any guest is attached.
    let seen = '';
    for (let i = 0; i < 50 && !POOLED.test(seen); i++) {
      seen = (
        await sandbox.host([
          'node',
          '-e',
          `require('node:net').connect(${SERVER.port}, '${SERVER.address}')
            .on('data', (d) => { console.log(String(d)); process.exit(0); })
            .on('error', () => process.exit(1));
          setTimeout(() => process.exit(1), 1000);`,
        ])
      ).stdout.trim();
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(seen, POOLED, 'the host should reach the IPv4 server through the CLAT and the NAT64');
    await sandbox.startServer6();
    guest = await sandbox.startGuest();
  });
  after(async () => sandbox?.destroy());

  it('attaches with the CLAT interface as the uplink, and its MTU', async () => {
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.match(attached.stdout, new RegExp(`uplink ${CLAT.name}, firewall`));
    const mtu = (dev: string, run: (argv: string[]) => Promise<{ stdout: string }>) =>
      run(['ip', '-j', 'link', 'show', 'dev', dev]).then((r) => JSON.parse(r.stdout)[0]?.mtu);
    assert.equal(await mtu('wlan0', (argv) => guest.exec(argv)), await mtu(CLAT.name, (argv) => sandbox.host(argv)));
  });

  it("the guest's IPv4 reaches an IPv4-only server through the CLAT and the operator's NAT64", async () => {
    let seen = '';
    for (let i = 0; i < 20 && !POOLED.test(seen); i++) seen = (await sandbox.fetchFromGuest(guest, 500)).stdout.trim();
    assert.match(seen, POOLED);
  });

  it("the guest's IPv6 leaves by the uplink itself, not the CLAT, and reaches an IPv6 server as the host", async () => {
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as {
      guests: Array<{ uplink: string; ipv6: { mode: string; uplink: string } | null }>;
    };
    assert.deepEqual([status.guests[0]?.uplink, status.guests[0]?.ipv6?.mode, status.guests[0]?.ipv6?.uplink], [CLAT.name, 'nat', 'wlan0']);
    let seen = '';
    for (let i = 0; i < 20 && seen !== V6.host; i++) seen = (await sandbox.fetch6FromGuest(guest, 500)).stdout.trim();
    assert.equal(seen, V6.host, `the IPv6 server at ${SERVER6.address} should see the host's uplink address`);
  });

  it('detach leaves the host without a trace of guestnet', async () => {
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    assert.equal((await sandbox.host(['ip', 'link', 'show', 'vm_wlan'])).exitCode, 1);
  });
});
