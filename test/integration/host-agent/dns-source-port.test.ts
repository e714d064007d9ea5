import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { type Daemon, type Guest, HOST_AGENT, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// The daemon's DNS forwarder asks upstream from a port the kernel picks at
// random for each query: with one fixed port for the daemon's whole life,
// only the 16-bit query id would stand against an off-path forger.

const RESOLVER = '203.0.113.53';
const ANSWER = '192.0.2.80';
const GATEWAY = '172.17.3.2';
const QUERIES = 8;

// Answers every query with one A record, and prints the source port each came from.
const RECORDING_SERVER = `
const d = require('node:dgram').createSocket('udp4');
d.on('message', (q, peer) => {
  console.log('port ' + peer.port);
  let end = 12;
  while (q[end]) end += q[end] + 1;
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${ANSWER.split('.').join(', ')}]);
  d.send(Buffer.concat([header, q.subarray(12, end + 5), answer]), peer.port, peer.address);
});
d.bind(53, '${RESOLVER}', () => console.log('ready'));`;

// QUERIES lookups of different names through the guest's gateway, one after another; prints each answer.
const LOOKUPS = `
const r = new (require('node:dns').promises.Resolver)({ timeout: 2000, tries: 2 });
r.setServers(['${GATEWAY}']);
(async () => {
  for (let i = 0; i < ${QUERIES}; i++) console.log(JSON.stringify(await r.resolve4('host' + i + '.example').catch((e) => e.code)));
})();`;

// Queries for new names as fast as it can for a second, through the gateway.
const FLOOD = `
const s = require('node:dgram').createSocket('udp4');
const end = Date.now() + 1000;
let n = 0;
const name = () => Buffer.concat([Buffer.from([10]), Buffer.from(String(n).padStart(10, '0')), Buffer.from([7]), Buffer.from('example'), Buffer.from([0])]);
function burst() {
  for (let i = 0; i < 50; i++, n++) {
    s.send(Buffer.concat([Buffer.from([n >> 8 & 255, n & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name(), Buffer.from([0, 1, 0, 1])]), 53, '${GATEWAY}');
  }
  if (Date.now() < end) setImmediate(burst); else setTimeout(() => process.exit(0), 100);
}
burst();`;

describe('host-agent serve: DNS queries go upstream from random source ports', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let daemon: Daemon;
  let guest: Guest;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it(`asks upstream from more than one source port over ${QUERIES} queries`, async () => {
    await sandbox.inet(['ip', 'address', 'add', `${RESOLVER}/32`, 'dev', 'lo']);
    const server = sandbox.serveIn(sandbox.inetNs, ['node', '-e', RECORDING_SERVER]);
    let seen = '';
    await new Promise<void>((resolve) =>
      server.stdout?.on('data', (chunk) => {
        seen += chunk;
        if (seen.includes('ready')) resolve();
      }),
    );
    await sandbox.setHostResolvConf(`nameserver ${RESOLVER}\n`);
    daemon = await sandbox.startDaemon();
    guest = await sandbox.startGuest();
    const attach = ['node', HOST_AGENT, 'attach', String(guest.pid), '--socket', sandbox.socket, '--state-dir', sandbox.stateDir];
    const attached = await sandbox.host(attach);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const answers = (await guest.exec(['node', '-e', LOOKUPS])).stdout.trim().split('\n');
    assert.deepEqual(answers, Array(QUERIES).fill(JSON.stringify([ANSWER])));
    const ports = [...seen.matchAll(/^port (\d+)$/gm)].map((m) => Number(m[1]));
    assert.ok(ports.length >= QUERIES, seen);
    assert.ok(new Set(ports).size > 1, `every query came from port ${ports[0]}`);
  });

  it("closes each query's socket: after a flood, the daemon holds no more descriptors than before", async () => {
    const fds = async () => (await readdir(`/proc/${daemon.pid}/fd`)).length;
    const before = await fds();
    await guest.exec(['node', '-e', FLOOD]);
    let after = await fds();
    // Queries the resolver has not answered yet are still in flight: their sockets close when they are answered or given up.
    for (let i = 0; i < SETTLE_GUARD_MS / 100 && after > before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await fds();
    }
    assert.ok(after <= before, `${after - before} more descriptors than before the flood`);
    await daemon.stop();
  });
});
