import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RaLink, raHostEndSysctls } from '@guestnet/host-agent';
import type { ResultPromise } from 'execa';
import { type Guest, Sandbox, SETTLE_GUARD_MS, tcpClientScript } from '../../fixtures/sandbox.js';

// Router advertisements for guests with IPv6 and no guest agent (issue 29):
// the daemon's radvd, owned through ra/radvd.ts, advertises a /64, RDNSS and
// the MTU on the guest links it is given and on no other; the guest's own
// kernel takes a SLAAC address and a default route from them. The host, with
// IPv6 forwarding on and accept_ra=2 on `default` as the daemon leaves it,
// takes nothing from a guest link.

const RA_FIXTURE = fileURLToPath(new URL('../../fixtures/ra-server.js', import.meta.url));
const GATEWAY6 = '2001:db8:3::1';
const linkOf = (n: number): RaLink => ({ link: `vm_ra${n}`, prefix: `2001:db8:3:1${n}::/64`, rdnss: [GATEWAY6], mtu: 1400 });
const ECHO_PORT = 8081;
const ECHO = `require('node:net').createServer((s) => { s.on('error', () => {}); s.end(s.remoteAddress); })
  .listen(${ECHO_PORT}, '${GATEWAY6}', () => console.log('ready'));`;

interface RaServer {
  child: ResultPromise;
  send(line: string): Promise<Record<string, unknown>>;
}

describe('router advertisements for guests: radvd owned by the daemon, SLAAC in the guest kernel', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  const guests: Guest[] = [];

  /** The fixture that owns radvd, as a daemon would, in the host netns. */
  async function startRaServer(): Promise<RaServer> {
    const child = sandbox.serveIn(sandbox.hostNs, ['node', RA_FIXTURE, sandbox.dir]);
    child.catch(() => {});
    let text = '';
    child.stdout?.on('data', (chunk) => (text += chunk));
    const lines = () => text.split('\n').filter((line) => line.startsWith('{'));
    for (let i = 0; i < 200 && lines().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    return {
      child,
      send: async (line) => {
        const before = lines().length;
        child.stdin?.write(`${line}\n`);
        for (let i = 0; i < 400 && lines().length === before; i++) await new Promise((r) => setTimeout(r, 25));
        return JSON.parse(lines().at(-1) as string);
      },
    };
  }

  /** radvd processes running our config, but for radvd's own privilege-separation child: never more than one. */
  async function radvds(): Promise<number[]> {
    const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
    const config = join(sandbox.dir, 'radvd.conf');
    const found = new Map<number, number>();
    for (const pid of pids) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      const parent = /PPid:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.[1];
      if (argv[0]?.endsWith('radvd') && argv.includes(config)) found.set(Number(pid), Number(parent));
    }
    return [...found].filter(([, parent]) => !found.has(parent)).map(([pid]) => pid);
  }

  const globalAddresses = async (exec: (argv: string[]) => Promise<{ stdout: string }>, dev: string) =>
    // iproute2 prints an empty object for each address its scope filter left out.
    (JSON.parse((await exec(['ip', '-6', '-j', 'address', 'show', 'dev', dev, 'scope', 'global'])).stdout)[0]?.addr_info ?? [])
      .filter((a: { local?: string }) => a.local !== undefined)
      .map((a: { local: string; tentative?: boolean }) => `${a.local}${a.tentative ? ' tentative' : ''}`);

  async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
    let value = await probe();
    for (const end = Date.now() + SETTLE_GUARD_MS; !ok(value) && Date.now() < end; value = await probe())
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(ok(value), `${what}: ${JSON.stringify(value)}`);
    return value;
  }

  before(async () => {
    sandbox = await Sandbox.create();
    // As the daemon leaves a host with IPv6 guests: forwarding on, and routers kept on interfaces made later.
    for (const [path, value] of [
      ['/proc/sys/net/ipv6/conf/all/forwarding', '1'],
      ['/proc/sys/net/ipv6/conf/default/accept_ra', '2'],
    ])
      assert.equal((await sandbox.host(['tee', path as string], value)).exitCode, 0);
    for (const n of [0, 1]) {
      const guest = await sandbox.startGuest({ agent: false });
      const { link, prefix } = linkOf(n);
      assert.equal(
        (await sandbox.host(['ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(guest.pid)])).exitCode,
        0,
      );
      for (const step of raHostEndSysctls(link)) if (step.kind === 'sysctl') await sandbox.host(['tee', step.path], step.value);
      const host = [`address add ${GATEWAY6}/128 dev ${link} nodad`, `link set dev ${link} up`, `route add ${prefix} dev ${link}`, ''];
      const made = await sandbox.host(['ip', '-batch', '-'], host.join('\n'));
      assert.equal(made.exitCode, 0, made.stderr);
      await guest.exec(['ip', 'link', 'set', 'dev', 'lo', 'up']);
      await guest.exec(['ip', 'link', 'set', 'dev', 'eth0', 'up']);
      guests.push(guest);
    }
    const echo = sandbox.serveIn(sandbox.hostNs, ['node', '-e', ECHO]);
    echo.catch(() => {});
    await new Promise((resolve) => echo.stdout?.once('data', resolve));
  });
  after(async () => sandbox?.destroy());

  it("gives the guest's kernel a SLAAC address in its link's /64, a default route, RDNSS and MTU; the uplink and unlisted links hear nothing", async () => {
    const server = await startRaServer();
    assert.deepEqual(await server.send(`apply ${JSON.stringify([linkOf(0)])}`), { applied: true, pid: (await radvds())[0] });
    const guest = guests[0] as Guest;
    const [address] = await waitFor(
      'a SLAAC address',
      () => globalAddresses((argv) => guest.exec(argv), 'eth0'),
      (a) => a.length === 1 && !/tentative/.test(a[0]),
    );
    assert.match(address as string, /^2001:db8:3:10:/);
    await waitFor(
      'a default route from the RA',
      async () => (await guest.exec(['ip', '-6', 'route', 'show', 'default'])).stdout,
      (r) => /^default via fe80::\S+ dev eth0 proto ra/.test(r),
    );
    const heard = await guest.exec(['rdisc6', '-1', '-n', 'eth0']);
    assert.match(heard.stdout, /Prefix\s+:\s+2001:db8:3:10::\/64/);
    assert.match(heard.stdout, new RegExp(`Recursive DNS server\\s+:\\s+${GATEWAY6}`));
    assert.match(heard.stdout, /MTU\s+:\s+1400 bytes/);
    // The host routes the /64 over the link: the gateway sees the guest's SLAAC address, and answers it.
    const seen = await guest.exec(['node', '-e', tcpClientScript(GATEWAY6, ECHO_PORT)]);
    assert.equal(seen.stdout.trim(), address);
    for (const [what, run, dev] of [
      ['a guest link not listed', (argv: string[]) => (guests[1] as Guest).exec(argv), 'eth0'],
      ['the uplink, from the LAN', (argv: string[]) => sandbox.inet(argv), 'uplink0'],
    ] as const) {
      const solicited = await run(['rdisc6', '-1', '-n', '-r', '2', '-w', '1500', dev]);
      assert.notEqual(solicited.exitCode, 0, `${what} heard an RA: ${solicited.stdout}`);
    }
    assert.deepEqual(await globalAddresses((argv) => (guests[1] as Guest).exec(argv), 'eth0'), []);
    assert.deepEqual(await server.send('stop keep'), { stopped: 'keep' });
  });

  it('the host takes no route and no address from a guest that advertises itself as a router', async () => {
    const guest = guests[0] as Guest;
    const rogue = join(sandbox.dir, 'rogue-radvd.conf');
    await guest.exec(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    await guest.exec([
      'sh',
      '-c',
      `printf '%s\\n' 'interface eth0 { AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4; prefix 2001:db8:bad::/64 { }; };' > ${rogue}`,
    ]);
    const radvd = guest.spawn([
      'radvd',
      '--nodaemon',
      '--config',
      rogue,
      '--pidfile',
      join(sandbox.dir, 'rogue.pid'),
      '--logmethod',
      'stderr',
    ]);
    radvd.catch(() => {});
    // The rogue RA does reach the host's end of the link...
    const heard = await waitFor(
      'the rogue RA on the host',
      () => sandbox.host(['rdisc6', '-1', '-n', '-w', '1500', 'vm_ra0']),
      (r) => /2001:db8:bad::\/64/.test(r.stdout),
    );
    assert.match(heard.stdout, /Router lifetime\s+:\s+[1-9]/);
    // ...and the host's kernel takes nothing from it, though forwarding is on and the link was made with accept_ra=2.
    await new Promise((r) => setTimeout(r, 1000));
    const routes = (await sandbox.host(['ip', '-6', 'route', 'show', 'table', 'all'])).stdout;
    assert.doesNotMatch(routes, /2001:db8:bad|default via fe80\S* dev vm_ra0/);
    assert.deepEqual(await globalAddresses((argv) => sandbox.host(argv), 'vm_ra0'), [`${GATEWAY6}/128`.split('/')[0]]);
    radvd.kill('SIGKILL');
    await guest.exec(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0']);
  });

  it('one radvd, owned: reloads on change, a restart keeps guests routed and ends a stale radvd, the last link withdraws', async () => {
    const guest = guests[0] as Guest;
    const first = await startRaServer();
    const applied = await first.send(`apply ${JSON.stringify([linkOf(0), linkOf(1)])}`);
    const pid = applied.pid as number;
    await waitFor(
      'a SLAAC address on the newly listed link',
      () => globalAddresses((argv) => (guests[1] as Guest).exec(argv), 'eth0'),
      (a) => a.length === 1,
    );
    // A daemon killed outright leaves its radvd behind; the next one ends it, quietly, and starts its own.
    first.child.kill('SIGKILL');
    await first.child.catch(() => {});
    assert.deepEqual(await radvds(), [pid]);
    const second = await startRaServer();
    const again = await second.send(`apply ${JSON.stringify([linkOf(0)])}`);
    assert.notEqual(again.pid, pid);
    assert.deepEqual(await radvds(), [again.pid]);
    assert.match((await guest.exec(['ip', '-6', 'route', 'show', 'default'])).stdout, /via fe80/, 'the restart kept the route');
    // The last link leaving withdraws: a final RA with router lifetime 0, and the guest drops its default route.
    assert.deepEqual(await second.send('apply []'), { applied: true, pid: null });
    assert.deepEqual(await radvds(), []);
    await waitFor(
      'the default route withdrawn',
      async () => (await guest.exec(['ip', '-6', 'route', 'show', 'default'])).stdout,
      (r) => r.trim() === '',
    );
  });
});
