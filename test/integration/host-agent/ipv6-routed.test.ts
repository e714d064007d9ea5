import assert from 'node:assert/strict';
import { type Guest, Sandbox, SERVER6, tcpClientScript } from '../../fixtures/sandbox.js';

// --ipv6 routed: the guest keeps an address of its own, from a prefix the
// upstream sends to the host, and the server sees it. Either the operator
// routes the prefix to the host, or the prefix is part of the uplink's own
// on-link /64 and the host answers neighbour discovery for the guest there.

const UPLINK6 = { host: '2001:db8:1::2', inet: '2001:db8:1::1' };
const ROUTED = '2001:db8:77::/64';
// Inside the uplink's /64: the operator expects its hosts on-link.
const ON_LINK = '2001:db8:1:0:0:1::/96';
const GUEST_PORT = 9700;

const sysctl = (sandbox: Sandbox, key: string) => sandbox.host(['sysctl', '-n', key]).then((r) => r.stdout.trim());

async function must(run: Promise<{ exitCode: number; stderr: string }>, what: string): Promise<void> {
  const result = await run;
  assert.equal(result.exitCode, 0, `${what}: ${result.stderr}`);
}

for (const { pool, how, firewall } of [
  { pool: ROUTED, how: 'a prefix the operator routes to the host', firewall: 'nftables' as const },
  { pool: ROUTED, how: 'a prefix the operator routes to the host', firewall: 'iptables' as const },
  { pool: ON_LINK, how: "a prefix on-link on the uplink, answered for by the host's neighbour proxy", firewall: 'nftables' as const },
  {
    pool: ON_LINK,
    how: "a prefix on-link on the uplink, answered for by the host's neighbour proxy",
    firewall: 'iptables-legacy' as const,
  },
])
  describe(`IPv6 for guests without NAT (--ipv6 routed), from ${how} (${firewall})`, function () {
    this.timeout(60_000);
    let sandbox: Sandbox;
    let guest: Guest;
    let pristine: string;
    let guest6: string;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      await must(sandbox.inet(['ip', '-6', 'address', 'add', `${UPLINK6.inet}/64`, 'dev', 'uplink0', 'nodad']), 'operator address');
      await must(sandbox.host(['ip', '-6', 'address', 'add', `${UPLINK6.host}/64`, 'dev', 'wlan0', 'nodad']), 'host address');
      await must(sandbox.host(['ip', '-6', 'route', 'add', 'default', 'via', UPLINK6.inet]), 'host IPv6 default route');
      if (pool === ROUTED) await must(sandbox.inet(['ip', '-6', 'route', 'add', ROUTED, 'via', UPLINK6.host]), 'route to the host');
      await sandbox.startServer6();
      guest = await sandbox.startGuest();
      pristine = await sandbox.hostSnapshot();
    });
    after(async () => sandbox?.destroy());

    it('attach gives the guest an address of the prefix, and the server sees that address', async () => {
      const attached = await sandbox.hostAgent(['attach', String(guest.pid), '--ipv6', 'routed', '--pool6', pool]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as {
        guests: Array<{ ipv6: { mode: string; address: string } | null }>;
      };
      assert.equal(status.guests[0]?.ipv6?.mode, 'routed');
      guest6 = status.guests[0]?.ipv6?.address ?? '';
      assert.match(guest6, pool === ROUTED ? /^2001:db8:77::ac11:303$/ : /^2001:db8:1::1:ac11:303$/);
      let seen = '';
      for (let i = 0; i < 20 && seen !== guest6; i++) seen = (await sandbox.fetch6FromGuest(guest, 500)).stdout.trim();
      assert.equal(seen, guest6, `the server at ${SERVER6.address} should see the guest's own address`);
      assert.equal(await sysctl(sandbox, 'net.ipv6.conf.wlan0.proxy_ndp'), pool === ON_LINK ? '1' : '0');
    });

    it('a new inbound connection to the guest is still refused: routed is not open', async () => {
      const listener = guest.spawn([
        'node',
        '-e',
        `require('node:net').createServer((s) => s.end('guest')).listen(${GUEST_PORT}, '::', () => console.log('ready'));
        setTimeout(() => process.exit(0), 6000);`,
      ]);
      listener.catch(() => {});
      await new Promise((resolve) => listener.stdout?.once('data', resolve));
      const inbound = await sandbox.inet(['node', '-e', tcpClientScript(guest6, GUEST_PORT, 1500)]);
      assert.notEqual(inbound.stdout.trim(), 'guest', 'a connection from the internet reached the guest');
    });

    it('detach leaves the host as it was, proxy entry and sysctls included', async () => {
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });

describe('--ipv6 routed without a prefix, and IPv6 asked for where the kernel has it off', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let guest: Guest;

  before(async () => {
    sandbox = await Sandbox.create();
    guest = await sandbox.startGuest();
  });
  after(async () => sandbox?.destroy());

  it('routed needs --pool6: one line, usage exit code, nothing changed', async () => {
    const pristine = await sandbox.hostSnapshot();
    const result = await sandbox.hostAgent(['attach', String(guest.pid), '--ipv6', 'routed']);
    assert.equal(result.exitCode, 2);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /--pool6/);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('nat on a host without an IPv6 default route: one line, exit 8, nothing changed', async () => {
    const pristine = await sandbox.hostSnapshot();
    const result = await sandbox.hostAgent(['attach', String(guest.pid), '--ipv6', 'nat']);
    assert.equal(result.exitCode, 8, result.stderr);
    assert.match(result.stderr, /no IPv6 default route/);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('nat where IPv6 is switched off: one line, exit 17, nothing changed; auto still attaches IPv4', async () => {
    await must(
      sandbox.host(['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']),
      'disable IPv6',
    );
    const pristine = await sandbox.hostSnapshot();
    const result = await sandbox.hostAgent(['attach', String(guest.pid), '--ipv6', 'nat']);
    assert.equal(result.exitCode, 17, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /IPv6 is switched off/);
    assert.equal(await sandbox.hostSnapshot(), pristine);
    const auto = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(auto.exitCode, 0, auto.stderr);
    assert.doesNotMatch(auto.stdout, /ipv6/);
  });
});
