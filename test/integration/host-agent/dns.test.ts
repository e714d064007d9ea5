import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Guest, HOST_AGENT, Sandbox } from '../../fixtures/sandbox.js';

// A resolver "out on the internet", reached only through the host's NAT.
const UPSTREAM = '203.0.113.53';
const ANSWER = '192.0.2.80';

// Answers every A query with ANSWER: enough DNS to prove a guest's lookups get through.
const DNS_SERVER = `
const d = require('node:dgram').createSocket('udp4');
d.on('message', (q, peer) => {
  let end = 12;
  while (q[end]) end += q[end] + 1;
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${ANSWER.split('.').join(', ')}]);
  d.send(Buffer.concat([header, q.subarray(12, end + 5), answer]), peer.port, peer.address);
});
d.bind(53, '${UPSTREAM}', () => console.log('ready'));`;

// Looks a name up with the servers in the guest's resolv.conf, as a libc resolver would.
const LOOKUP = (resolvConf: string) => `
const servers = require('node:fs').readFileSync('${resolvConf}', 'utf8').match(/^nameserver \\S+/gm).map((l) => l.split(' ')[1]);
const resolver = new (require('node:dns').promises.Resolver)({ timeout: 2000, tries: 1 });
resolver.setServers(servers);
resolver.resolve4('device.example').then((a) => console.log(a.join(',')), (e) => { console.error(e.code); process.exit(2); });`;

// Like a systemd-resolved host: /etc/resolv.conf names only the 127.0.0.53 stub and the real
// upstreams are in /run/systemd/resolve/resolv.conf. Staged in a private mount namespace so
// the machine's own files are never touched.
const RESOLVED_HOST = `set -e
mount -t tmpfs guestnet-test /run
mkdir -p /run/systemd/resolve
echo 'nameserver ${UPSTREAM}' > /run/systemd/resolve/resolv.conf
target=$(readlink -f /etc/resolv.conf)
[ -e "$target" ] || { mkdir -p "$(dirname "$target")"; : > "$target"; }
mount --bind "$1" /etc/resolv.conf
shift
exec "$@"`;

describe('DNS on a systemd-resolved host: the guest gets the real upstreams and its lookups work', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let guest: Guest;

  before(async () => {
    sandbox = await Sandbox.create();
    await sandbox.inet(['ip', 'address', 'add', `${UPSTREAM}/32`, 'dev', 'lo']);
    const server = sandbox.serveIn(sandbox.inetNs, ['node', '-e', DNS_SERVER]);
    await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
    guest = await sandbox.startGuest();
  });
  after(async () => sandbox?.destroy());

  it('hands out the upstream behind the 127.0.0.53 stub, never the stub itself', async () => {
    const stub = join(sandbox.dir, 'stub-resolv.conf');
    await writeFile(stub, 'nameserver 127.0.0.53\noptions edns0 trust-ad\n');
    const attach = ['node', HOST_AGENT, 'attach', String(guest.pid), '--socket', sandbox.socket, '--state-dir', sandbox.stateDir];
    const result = await sandbox.host(['unshare', '--mount', 'sh', '-c', RESOLVED_HOST, 'sh', stub, ...attach]);
    assert.equal(result.exitCode, 0, result.stderr);
    const resolvConf = await readFile(guest.files[guest.files.indexOf('--resolv-conf') + 1] as string, 'utf8');
    assert.deepEqual(resolvConf.match(/^nameserver .*$/gm), [`nameserver ${UPSTREAM}`]);
  });

  it("resolves a name from inside the guest through the host's NAT", async () => {
    const resolvConf = guest.files[guest.files.indexOf('--resolv-conf') + 1] as string;
    const lookup = await guest.exec(['node', '-e', LOOKUP(resolvConf)]);
    assert.equal(lookup.exitCode, 0, lookup.stderr);
    assert.equal(lookup.stdout.trim(), ANSWER);
  });
});
