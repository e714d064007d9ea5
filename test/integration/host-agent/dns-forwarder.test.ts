import assert from 'node:assert/strict';
import { makeNetdHost } from '../../fixtures/android-host.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Daemon, FIREWALLS, type Guest, HOST_AGENT, Sandbox, SETTLE_GUARD_MS, UPLINK } from '../../fixtures/sandbox.js';

// Guests of a daemon resolve through a forwarder on their gateway, and so
// follow the host's resolvers as they change; nobody else gets an answer,
// and one guest's flood does not starve another.

const RESOLVER_A = { address: '203.0.113.53', answer: '192.0.2.80' };
const RESOLVER_B = { address: '203.0.113.54', answer: '192.0.2.81' };
// Reachable from the host only over IPv6, on the uplink's documentation prefix.
const RESOLVER_V6 = { address: '2001:db8:100::53', answer: '192.0.2.82', hostAddress: '2001:db8:100::2', inetAddress: '2001:db8:100::1' };
const GATEWAY = '172.17.3.2';

// Answers every query with one A record, over UDP and TCP: enough DNS to see which resolver answered.
const dnsServer = (address: string, answer: string) => `
const answerTo = (q) => {
  let end = 12;
  while (q[end]) end += q[end] + 1;
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${answer.split('.').join(', ')}]);
  return Buffer.concat([header, q.subarray(12, end + 5), record]);
};
const d = require('node:dgram').createSocket('${address.includes(':') ? 'udp6' : 'udp4'}');
d.on('message', (q, peer) => d.send(answerTo(q), peer.port, peer.address));
require('node:net').createServer((s) => {
  s.on('error', () => {});
  s.once('data', (b) => { const a = answerTo(b.subarray(2)); s.end(Buffer.concat([Buffer.from([a.length >> 8, a.length & 255]), a])); });
}).listen(53, '${address}');
d.bind(53, '${address}', () => console.log('ready'));`;

// netd's dnsproxyd as an Android host has it, answering resnsend with NETD_ANSWER for any A query.
const NETD_ANSWER = '192.0.2.99';
const fakeNetd = (path: string) => `
require('node:net').createServer((c) => c.once('data', (d) => {
  const q = Buffer.from(d.toString().replace(/\\0$/, '').split(' ')[3], 'base64');
  let end = 12;
  while (q[end]) end += q[end] + 1;
  const a = Buffer.concat([
    Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]),
    q.subarray(12, end + 5),
    Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${NETD_ANSWER.split('.').join(', ')}]),
  ]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(a.length, 4);
  c.end(Buffer.concat([head, a]));
})).listen('${path}', () => console.log('ready'));`;

// A query for device.example over TCP, as a stub resolver falls back to after a truncated answer; prints the A record.
const tcpLookup = (server: string) => `
const q = Buffer.concat([
  Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 6]), Buffer.from('device'), Buffer.from([7]), Buffer.from('example'),
  Buffer.from([0, 0, 1, 0, 1]),
]);
const s = require('node:net').connect(53, '${server}', () => s.write(Buffer.concat([Buffer.from([0, q.length]), q])));
let got = Buffer.alloc(0);
s.on('data', (b) => {
  got = Buffer.concat([got, b]);
  if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) { console.log(JSON.stringify([[...got.subarray(-4)].join('.')])); process.exit(0); }
});
s.on('error', (e) => { console.log(e.code); process.exit(0); });
setTimeout(() => { console.log('ETIMEOUT'); process.exit(0); }, 3000);`;

// One lookup against `server`, as a stub resolver sends it (glibc tries twice); prints the answer or the error code.
const lookup = (server: string, tries = 1) => `
const r = new (require('node:dns').promises.Resolver)({ timeout: 1500, tries: ${tries} });
r.setServers(['${server}']);
r.resolve4('device.example').then((a) => console.log(JSON.stringify(a)), (e) => console.log(e.code));`;

// Queries as fast as it can for `ms`, each for a new name.
const flood = (server: string, ms: number) => `
const s = require('node:dgram').createSocket('udp4');
const end = Date.now() + ${ms};
let n = 0;
const name = () => Buffer.concat([Buffer.from([10]), Buffer.from(String(n).padStart(10, '0')), Buffer.from([7]), Buffer.from('example'), Buffer.from([0])]);
function burst() {
  for (let i = 0; i < 200; i++, n++) {
    s.send(Buffer.concat([Buffer.from([n >> 8 & 255, n & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name(), Buffer.from([0, 1, 0, 1])]), 53, '${server}');
  }
  if (Date.now() < end) setImmediate(burst); else setTimeout(() => process.exit(0), 100);
}
burst();`;

const rssKiB = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]);

// Each firewall backend, and a simulated Android host (netd's chains and policy routing).
for (const host of [...FIREWALLS, 'netd'] as const)
  describe(`host-agent serve: DNS through a forwarder on the guest gateway (${host})`, function () {
    this.timeout(120_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let guest: Guest;
    let other: Guest;

    const resolveIn = async (g: Guest, server = GATEWAY, tries = 1) => (await g.exec(['node', '-e', lookup(server, tries)])).stdout.trim();
    /** What `g` resolves once it gives `answer`, or when the guard runs out: the host's resolver may have just changed. */
    const resolvesOnceSettled = async (g: Guest, answer: string) => {
      const started = Date.now();
      let got = '';
      while (got !== JSON.stringify([answer]) && Date.now() - started < SETTLE_GUARD_MS) got = await resolveIn(g);
      return got;
    };
    /** A process in the sandbox, once it printed its first line. */
    const ready = async (argv: string[], netns: string) => {
      const server = sandbox.serveIn(netns, argv);
      await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
    };
    const attach = async (g: Guest) => {
      const result = await sandbox.host([
        'node',
        HOST_AGENT,
        'attach',
        String(g.pid),
        '--socket',
        sandbox.socket,
        '--state-dir',
        sandbox.stateDir,
      ]);
      assert.equal(result.exitCode, 0, result.stderr);
      return result;
    };

    before(async () => {
      sandbox = await Sandbox.create(host === 'netd' ? 'iptables' : host);
      if (host === 'netd') await makeNetdHost(sandbox, UPLINK.inetAddress, `198.51.100.0/${UPLINK.prefix}`);
      for (const resolver of [RESOLVER_A, RESOLVER_B]) {
        await sandbox.inet(['ip', 'address', 'add', `${resolver.address}/32`, 'dev', 'lo']);
        await ready(['node', '-e', dnsServer(resolver.address, resolver.answer)], sandbox.inetNs);
      }
      await sandbox.setHostResolvConf(`nameserver ${RESOLVER_A.address}\n`);
      daemon = await sandbox.startDaemon(['--netd-socket', join(sandbox.dir, 'dnsproxyd')]);
      guest = await sandbox.startGuest();
      other = await sandbox.startGuest();
    });
    after(async () => sandbox?.destroy());

    it("hands the guest its gateway as resolver, and lookups get the host resolver's answer, over UDP and TCP", async () => {
      const attached = await attach(guest);
      assert.match(attached.stdout, new RegExp(`dns ${GATEWAY}$`, 'm'));
      assert.match(await readFile(guest.files[1] as string, 'utf8'), new RegExp(`^nameserver ${GATEWAY.replace(/\./g, '\\.')}$`, 'm'));
      assert.equal(await resolveIn(guest), JSON.stringify([RESOLVER_A.answer]));
      assert.equal((await guest.exec(['node', '-e', tcpLookup(GATEWAY)])).stdout.trim(), JSON.stringify([RESOLVER_A.answer]));
    });

    it("follows a change of the host's resolv.conf with no re-attach", async () => {
      await sandbox.setHostResolvConf(`nameserver ${RESOLVER_B.address}\n`);
      assert.equal(await resolvesOnceSettled(guest, RESOLVER_B.answer), JSON.stringify([RESOLVER_B.answer]));
    });

    it('answers nobody but guests: not on the uplink address, not at the gateway from the uplink side', async () => {
      const fromInternet = async (server: string) => (await sandbox.inet(['node', '-e', lookup(server)])).stdout.trim();
      assert.equal(await fromInternet(UPLINK.hostAddress), 'ECONNREFUSED');
      await sandbox.inet(['ip', 'route', 'add', `${GATEWAY}/32`, 'via', UPLINK.hostAddress]);
      assert.equal(await fromInternet(GATEWAY), 'ETIMEOUT');
    });

    it("keeps answering another guest while one floods it, and the daemon's memory stays bounded", async () => {
      await attach(other);
      assert.equal(await resolveIn(other), JSON.stringify([RESOLVER_B.answer]), 'before the flood');
      const before = await rssKiB(daemon.pid);
      const flooding = guest.exec(['node', '-e', flood(GATEWAY, 4000)]);
      await new Promise((r) => setTimeout(r, 500));
      const answers: string[] = [];
      for (let i = 0; i < 5; i++) answers.push(await resolveIn(other, GATEWAY, 2));
      await flooding;
      assert.deepEqual(
        answers,
        Array(5).fill(JSON.stringify([RESOLVER_B.answer])),
        daemon
          .output()
          .split('\n')
          .filter((l) => /dropped/.test(l))
          .join('\n'),
      );
      assert.match(daemon.output(), /guest DNS queries dropped/);
      const grown = (await rssKiB(daemon.pid)) - before;
      assert.ok(grown < 32 * 1024, `the daemon grew by ${grown} KiB during the flood`);
    });

    it('follows a host whose only resolver is reachable over IPv6', async () => {
      await sandbox.host(['ip', 'address', 'add', `${RESOLVER_V6.hostAddress}/64`, 'dev', 'wlan0', 'nodad']);
      await sandbox.inet(['ip', 'address', 'add', `${RESOLVER_V6.inetAddress}/64`, 'dev', 'uplink0', 'nodad']);
      await sandbox.inet(['ip', 'address', 'add', `${RESOLVER_V6.address}/128`, 'dev', 'lo']);
      await sandbox.host(['ip', 'route', 'add', `${RESOLVER_V6.address}/128`, 'via', RESOLVER_V6.inetAddress]);
      await ready(['node', '-e', dnsServer(RESOLVER_V6.address, RESOLVER_V6.answer)], sandbox.inetNs);
      await sandbox.setHostResolvConf(`nameserver ${RESOLVER_V6.address}\n`);
      assert.equal(await resolvesOnceSettled(other, RESOLVER_V6.answer), JSON.stringify([RESOLVER_V6.answer]));
    });

    it('resolves through netd when the host names no resolver and has netd (Android)', async () => {
      await ready(['node', '-e', fakeNetd(join(sandbox.dir, 'dnsproxyd'))], sandbox.hostNs);
      await sandbox.setHostResolvConf('# Android has no resolvers here\n');
      assert.equal(await resolvesOnceSettled(other, NETD_ANSWER), JSON.stringify([NETD_ANSWER]));
      assert.equal((await other.exec(['node', '-e', tcpLookup(GATEWAY)])).stdout.trim(), JSON.stringify([NETD_ANSWER]));
    });

    it('detaches both, and then the forwarder answers no one', async () => {
      for (const g of [guest, other]) assert.equal((await sandbox.hostAgent(['detach', String(g.pid)])).exitCode, 0);
      assert.doesNotMatch(await resolveIn(other), /192\.0\.2/);
      await daemon.stop();
    });
  });
