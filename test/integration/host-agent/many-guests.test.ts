import assert from 'node:assert/strict';
import { type Guest, Sandbox, tcpClientScript, UPLINK } from '../../fixtures/sandbox.js';

const PORT = 9100;
const listener = (reply: string) => `require('node:net').createServer((s) => s.end('${reply}')).listen(${PORT})`;

async function addressOf(guest: Guest): Promise<string> {
  const [link] = JSON.parse((await guest.exec(['ip', '-j', '-4', 'address', 'show', 'dev', 'wlan0'])).stdout);
  return link.addr_info[0].local;
}

async function reach(from: Guest, address: string): Promise<string> {
  const result = await from.exec(['node', '-e', tcpClientScript(address, PORT)]);
  return result.exitCode === 0 ? result.stdout.trim() : `failed (${result.stderr.trim()})`;
}

describe('several guests without a daemon: unique names and addresses, isolated by default', () => {
  let sandbox: Sandbox;
  let pristine: string;
  const guests: Guest[] = [];

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
    for (let i = 0; i < 3; i++) guests.push(await sandbox.startGuest());
  });
  after(async () => sandbox?.destroy());

  it('attaches three guests concurrently, each with its own link and address', async () => {
    const results = await Promise.all(guests.map((g) => sandbox.hostAgent(['attach', String(g.pid), '--json'])));
    for (const result of results) assert.equal(result.exitCode, 0, result.stderr);
    const attachments = results.map((r) => JSON.parse(r.stdout).attachment);
    assert.deepEqual(new Set(attachments.map((a) => a.hostIf)), new Set(['vm_wlan', 'vm_wlan1', 'vm_wlan2']));
    assert.deepEqual(new Set(attachments.map((a) => a.guestAddress)), new Set(['172.17.3.3', '172.17.3.4', '172.17.3.5']));
    for (const guest of guests) assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
  });

  it('every guest sees the same gateway and a /16, as in the design', async () => {
    for (const guest of guests) {
      const routes = JSON.parse((await guest.exec(['ip', '-j', 'route', 'show', 'default'])).stdout);
      assert.equal(routes[0].gateway, '172.17.3.2');
      const [link] = JSON.parse((await guest.exec(['ip', '-j', '-4', 'address', 'show', 'dev', 'wlan0'])).stdout);
      assert.equal(link.addr_info[0].prefixlen, 16);
    }
  });

  it('keeps guests from reaching each other unless both allow it', async () => {
    const [a, b] = guests as [Guest, Guest];
    const serving = b.exec(['timeout', '10', 'node', '-e', listener('b')]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.match(await reach(a, await addressOf(b)), /failed/);
    } finally {
      await b.exec(['pkill', '-f', `listen\\(${PORT}`]);
      await serving;
    }
  });

  it('lets two --guest-to-guest guests talk', async () => {
    const open = [await sandbox.startGuest(), await sandbox.startGuest()] as [Guest, Guest];
    for (const g of open) assert.equal((await sandbox.hostAgent(['attach', String(g.pid), '--guest-to-guest'])).exitCode, 0);
    const serving = open[1].exec(['timeout', '10', 'node', '-e', listener('open')]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await reach(open[0], await addressOf(open[1])), 'open');
      assert.match(await reach(guests[0] as Guest, await addressOf(open[1])), /failed/, 'an isolated guest got through');
    } finally {
      await open[1].exec(['pkill', '-f', `listen\\(${PORT}`]);
      await serving;
    }
    guests.push(...open);
  });

  it('detaching them all leaves the host exactly as before', async () => {
    const results = await Promise.all(guests.map((g) => sandbox.hostAgent(['detach', String(g.pid)])));
    for (const result of results) assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
