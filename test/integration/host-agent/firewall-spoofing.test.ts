import assert from 'node:assert/strict';
import { startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { type Daemon, FIREWALLS, type Guest, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

// Traffic from outside the guests' links that claims a guest's address, here
// from the "internet" side of the uplink as a LAN host would send it: queries
// to the guests' gateway with a guest's source, and connections to a port
// forward with a guest's source. Both are dropped before the forwarder or the
// forward chain takes them, with the host's rp_filter off, and the victim
// keeps resolving through a flood of such queries.

const RESOLVER = { address: '203.0.113.53', answer: '192.0.2.80' };
const GATEWAY = '172.17.3.2';
const FORWARDED = 7000;

const dnsServer = `
const answerTo = (q) => {
  let end = 12;
  while (q[end]) end += q[end] + 1;
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${RESOLVER.answer.split('.').join(', ')}]);
  return Buffer.concat([header, q.subarray(12, end + 5), record]);
};
const d = require('node:dgram').createSocket('udp4');
d.on('message', (q, peer) => d.send(answerTo(q), peer.port, peer.address));
d.bind(53, '${RESOLVER.address}', () => console.log('ready'));`;

/** `count` lookups of different names, one after another, one try each; prints how many were answered. */
const lookups = (server: string, count: number) => `
const r = new (require('node:dns').promises.Resolver)({ timeout: 1500, tries: 1 });
r.setServers(['${server}']);
(async () => {
  let answered = 0;
  for (let i = 0; i < ${count}; i++) answered += await r.resolve4('name' + i + '.example').then(() => 1, () => 0);
  console.log(answered);
})();`;

/** Queries `server` from `source`, about a thousand a second for `ms`, each for a new name. */
const spoofedFlood = (source: string, server: string, ms: number) => `
const s = require('node:dgram').createSocket('udp4');
const end = Date.now() + ${ms};
let n = 0;
const name = () => Buffer.concat([Buffer.from([10]), Buffer.from(String(n).padStart(10, '0')), Buffer.from([7]), Buffer.from('example'), Buffer.from([0])]);
s.bind(0, '${source}', () => {
  const burst = () => {
    for (let i = 0; i < 50; i++, n++)
      s.send(Buffer.concat([Buffer.from([n >> 8 & 255, n & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name(), Buffer.from([0, 1, 0, 1])]), 53, '${server}');
    if (Date.now() < end) setTimeout(burst, 50); else setTimeout(() => process.exit(0), 100);
  };
  burst();
});`;

/** A UDP listener on `port` that prints each sender's address once; `family` 'udp4' or 'udp6'. */
const listener = (family: string, port: number) => `
const seen = new Set();
const s = require('node:dgram').createSocket({ type: '${family}', ipv6Only: '${family}' === 'udp6' });
s.on('message', (m, peer) => { if (!seen.has(peer.address)) { seen.add(peer.address); console.log(peer.address); } });
s.bind(${port}, () => console.log('ready'));`;

/** Sends a few datagrams to address:port from a socket bound to `source`. */
const sendFrom = (family: string, source: string, address: string, port: number) => `
const s = require('node:dgram').createSocket('${family}');
s.bind(0, '${source}', () => {
  let n = 0;
  const once = () => s.send('hello', ${port}, '${address}', () => (++n < 5 ? setTimeout(once, 50) : setTimeout(() => process.exit(0), 100)));
  once();
});`;

for (const firewall of FIREWALLS)
  describe(`traffic from outside that claims a guest's address is dropped (${firewall})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let victim: Guest;
    let other: Guest;
    let hostAddress6: string;
    const addresses: Record<'victim' | 'other', { v4: string; v6: string }> = {} as never;
    let heard: string[] = [];

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      hostAddress6 = await startRaUplink(sandbox);
      // Not the host's rp_filter: the rules must hold whatever it is.
      for (const key of ['all', 'default', 'wlan0'])
        assert.equal((await sandbox.host(['sysctl', '-q', '-w', `net.ipv4.conf.${key}.rp_filter=0`])).exitCode, 0);
      await sandbox.inet(['ip', 'address', 'add', `${RESOLVER.address}/32`, 'dev', 'lo']);
      const resolver = sandbox.serveIn(sandbox.inetNs, ['node', '-e', dnsServer]);
      await new Promise<void>((resolve) => resolver.stdout?.once('data', () => resolve()));
      await sandbox.setHostResolvConf(`nameserver ${RESOLVER.address}\n`);
      daemon = await sandbox.startDaemon();
      victim = await sandbox.startGuest();
      other = await sandbox.startGuest();
      for (const g of [victim, other]) assert.equal((await sandbox.hostAgent(['attach', String(g.pid)])).exitCode, 0);
      assert.equal((await sandbox.hostAgent(['forward', String(other.pid), `${FORWARDED}:${FORWARDED}/udp`])).exitCode, 0);
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as {
        guests: Array<{ pid: number; address: string; ipv6: { address: string; prefixLength: number } }>;
      };
      for (const [name, g] of [
        ['victim', victim],
        ['other', other],
      ] as const) {
        const shown = status.guests.find((s) => s.pid === g.pid);
        addresses[name] = { v4: shown?.address ?? '', v6: shown?.ipv6.address ?? '' };
      }
      // The LAN side routes the guests' pools to the host and can send from the victim's addresses.
      const pool6 = status.guests[0]?.ipv6.address.replace(/::[^:]*:[^:]*$/, '::/64') ?? '';
      await sandbox.inet(['ip', 'route', 'add', '172.17.0.0/16', 'via', UPLINK.hostAddress]);
      await sandbox.inet(['ip', '-6', 'route', 'add', pool6, 'via', hostAddress6]);
      await sandbox.inet(['ip', 'address', 'add', `${addresses.victim.v4}/32`, 'dev', 'lo']);
      await sandbox.inet(['ip', '-6', 'address', 'add', `${addresses.victim.v6}/128`, 'dev', 'lo', 'nodad']);
      for (const family of ['udp4', 'udp6']) {
        const listening = other.spawn(['node', '-e', listener(family, FORWARDED)]);
        listening.stdout?.on('data', (chunk: Buffer) =>
          heard.push(
            ...String(chunk)
              .split('\n')
              .filter((l) => l && l !== 'ready'),
          ),
        );
        await new Promise<void>((resolve) => listening.stdout?.once('data', () => resolve()));
      }
    });
    after(async () => sandbox?.destroy());

    it('the victim resolves every name through a flood of queries to its gateway that carry its address', async () => {
      assert.equal((await victim.exec(['node', '-e', lookups(GATEWAY, 1)])).stdout.trim(), '1', 'before the flood');
      const flooding = sandbox.inet(['node', '-e', spoofedFlood(addresses.victim.v4, GATEWAY, 6000)]);
      await new Promise((r) => setTimeout(r, 500));
      const answered = (await victim.exec(['node', '-e', lookups(GATEWAY, 20)])).stdout.trim();
      await flooding;
      const dropped = daemon
        .output()
        .split('\n')
        .filter((l) => /queries dropped/.test(l));
      assert.deepEqual(dropped, [], 'the flood reached the forwarder, which counted it against the victim');
      assert.equal(answered, '20');
    });

    it('a port forward passes nothing that claims a guest address from outside, over IPv4 and IPv6', async () => {
      heard = [];
      const send = (family: string, source: string, address: string) =>
        sandbox.inet(['node', '-e', sendFrom(family, source, address, FORWARDED)]);
      await send('udp4', addresses.victim.v4, UPLINK.hostAddress);
      await send('udp6', addresses.victim.v6, hostAddress6);
      // Then from the LAN side's own addresses: the forward itself works, and what was sent before had its chance.
      await send('udp4', UPLINK.inetAddress, UPLINK.hostAddress);
      const inet6 = (await sandbox.inet(['ip', '-6', '-j', 'address', 'show', 'dev', 'uplink0', 'scope', 'global'])).stdout;
      const own6 = (JSON.parse(inet6) as Array<{ addr_info: Array<{ local: string }> }>)[0]?.addr_info[0]?.local ?? '';
      await send('udp6', own6, hostAddress6);
      for (let i = 0; i < 20 && heard.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(heard.sort(), [UPLINK.inetAddress, own6].sort());
    });
  });
