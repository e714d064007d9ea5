import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { encodeFrame, ExitCode, PROTOCOL_VERSION } from '@guestnet/protocol';
import {
  DNS,
  FIREWALLS,
  type Guest,
  GUEST_AGENT,
  Sandbox,
  SERVER,
  SETTLE_GUARD_MS,
  tcpClientScript,
  UPLINK,
} from '../../fixtures/sandbox.js';

const GUEST_PORT = 9000;
const LISTENER = `require('node:net').createServer((s) => s.end('guest')).listen(${GUEST_PORT}, () => console.log('ready'))`;

// The same suite for every backend. The sandbox host's own rules are of that
// kind (for iptables: Docker-style, FORWARD policy DROP), and attach is given
// no --firewall: it must detect the backend and still get the guest online.
for (const firewall of FIREWALLS)
  describe(`host-agent attach <pid>, end to end with a real guest agent (${firewall})`, () => {
    let sandbox: Sandbox;
    let guest: Guest;
    let pristine: string;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      guest = await sandbox.startGuest();
      pristine = await sandbox.hostSnapshot();
    });
    after(async () => sandbox?.destroy());

    it('attaches and exits 0 once the guest agent has confirmed', async () => {
      const result = await sandbox.hostAgent(['attach', String(guest.pid)]);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, /guest agent confirmed wlan0 172\.17\.3\.3\/16 via 172\.17\.3\.2/);
      assert.match(result.stdout, new RegExp(`firewall ${firewall}$`, 'm'), 'the wrong backend was detected');
    });

    it('renames the guest end to wlan0 with its address, MTU and default route', async () => {
      const [addr] = JSON.parse((await guest.exec(['ip', '-j', '-4', 'address', 'show', 'dev', 'wlan0'])).stdout);
      assert.equal(addr.operstate, 'UP');
      assert.equal(addr.mtu, 1500);
      assert.deepEqual(
        addr.addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
        ['172.17.3.3/16'],
      );
      const routes = JSON.parse((await guest.exec(['ip', '-j', 'route', 'show', 'default'])).stdout);
      assert.deepEqual(
        routes.map((r: { gateway: string; dev: string }) => [r.gateway, r.dev]),
        [['172.17.3.2', 'wlan0']],
      );
      const links = (await guest.exec(['ip', '-o', 'link', 'show'])).stdout.split('\n').filter(Boolean);
      assert.deepEqual(
        links.map((l) => l.split(':')[1]?.trim().split('@')[0]),
        ['lo', 'wlan0'],
        'the guest end should be renamed',
      );
    });

    it("writes the host's resolvers into the guest's resolv.conf", async () => {
      const resolvConf = await readFile(join(sandbox.dir, 'guest-0-resolv.conf'), 'utf8');
      assert.match(resolvConf, new RegExp(`^nameserver ${DNS.replace(/\./g, '\\.')}$`, 'm'));
    });

    it('reaches the server, which sees the host uplink address (NAT)', async () => {
      const result = await sandbox.fetchFromGuest(guest);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(result.stdout.trim(), UPLINK.hostAddress);
    });

    it('the guest agent repairs drift: a deleted default route, then a deleted address', async () => {
      const defaultRoute = async () => JSON.parse((await guest.exec(['ip', '-j', 'route', 'show', 'default'])).stdout)[0]?.gateway;
      for (const vandalism of [
        ['ip', 'route', 'del', 'default'],
        ['ip', 'address', 'del', '172.17.3.3/16', 'dev', 'wlan0'],
      ]) {
        assert.equal((await guest.exec(vandalism)).exitCode, 0);
        const started = Date.now();
        while ((await defaultRoute()) !== '172.17.3.2' && Date.now() - started < SETTLE_GUARD_MS)
          await new Promise((r) => setTimeout(r, 50));
        assert.equal(await defaultRoute(), '172.17.3.2', `not repaired after ${vandalism.join(' ')}`);
      }
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
    });

    it("the guest agent makes main reachable again after an Android netd flushes the guest's ip rules", async () => {
      // What netd does at boot: flush every rule but priority 0, end with a catch-all unreachable.
      assert.equal((await guest.exec(['sh', '-c', 'ip rule flush && ip rule add priority 32000 unreachable'])).exitCode, 0);
      const mainRule = async () => /^31999:\s+from all lookup main/m.test((await guest.exec(['ip', 'rule', 'show'])).stdout);
      const started = Date.now();
      while (!(await mainRule()) && Date.now() - started < SETTLE_GUARD_MS) await new Promise((r) => setTimeout(r, 50));
      assert.ok(await mainRule(), 'no rule looks up main again after the flush');
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
    });

    it('changes nothing on a second attach', async () => {
      const before = await sandbox.hostSnapshot();
      const result = await sandbox.hostAgent(['attach', String(guest.pid), '--json']);
      assert.equal(result.exitCode, 0, result.stderr);
      const report = JSON.parse(result.stdout);
      assert.equal(report.changed, false);
      assert.equal(report.guest.changes, 0);
      assert.equal(await sandbox.hostSnapshot(), before);
    });

    it('drops new connections from the uplink side to the guest', async () => {
      const listener = guest.exec(['timeout', '20', 'node', '-e', LISTENER]);
      try {
        await sandbox.inet(['ip', 'route', 'replace', '172.17.0.0/16', 'via', UPLINK.hostAddress]);
        // The listener itself is reachable from the host: only forwarding from the uplink is refused.
        let fromHost = await sandbox.host(['node', '-e', tcpClientScript('172.17.3.3', GUEST_PORT)]);
        for (let i = 0; i < 20 && fromHost.stdout.trim() !== 'guest'; i++) {
          await new Promise((r) => setTimeout(r, 100));
          fromHost = await sandbox.host(['node', '-e', tcpClientScript('172.17.3.3', GUEST_PORT)]);
        }
        assert.equal(fromHost.stdout.trim(), 'guest');
        const fromInternet = await sandbox.connectFromInternet('172.17.3.3', GUEST_PORT);
        assert.notEqual(fromInternet.exitCode, 0, 'a connection from the uplink side got through');
      } finally {
        await sandbox.inet(['ip', 'route', 'del', '172.17.0.0/16']);
        await guest.exec(['pkill', '-f', `listen\\(${GUEST_PORT}`]);
        await listener;
      }
    });

    it('forwards a host port to the guest (e.g. adbd), shows it in status, and removes it', async () => {
      const listener = guest.exec(['timeout', '20', 'node', '-e', LISTENER]);
      try {
        const added = await sandbox.hostAgent(['forward', String(guest.pid), `${GUEST_PORT}:${GUEST_PORT}/tcp`]);
        assert.equal(added.exitCode, 0, added.stderr);
        assert.match(added.stdout, new RegExp(`now forwards: ${GUEST_PORT}->${GUEST_PORT}/tcp`));
        let reply = await sandbox.connectFromInternet(UPLINK.hostAddress, GUEST_PORT);
        for (let i = 0; i < 20 && reply.stdout.trim() !== 'guest'; i++) {
          await new Promise((r) => setTimeout(r, 100));
          reply = await sandbox.connectFromInternet(UPLINK.hostAddress, GUEST_PORT);
        }
        assert.equal(reply.stdout.trim(), 'guest', 'the forwarded port did not reach the guest');
        const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
        assert.deepEqual(status.guests[0].forwards, [{ protocol: 'tcp', hostPort: GUEST_PORT, guestPort: GUEST_PORT, inForce: true }]);
        assert.match((await sandbox.hostAgent(['status'])).stdout, new RegExp(`${GUEST_PORT}->${GUEST_PORT}/tcp$`, 'm'));
        const removed = await sandbox.hostAgent(['forward', String(guest.pid), `${GUEST_PORT}:${GUEST_PORT}`, '--remove']);
        assert.match(removed.stdout, /now forwards: none/);
        assert.notEqual((await sandbox.connectFromInternet(UPLINK.hostAddress, GUEST_PORT)).exitCode, 0);
        await sandbox.hostAgent(['forward', String(guest.pid), `${GUEST_PORT}:${GUEST_PORT}`]);
      } finally {
        await guest.exec(['pkill', '-f', `listen\\(${GUEST_PORT}`]);
        await listener;
      }
    });

    it('refuses to forward for a pid that is not attached', async () => {
      const result = await sandbox.hostAgent(['forward', '4194304', '80:80']);
      assert.equal(result.exitCode, ExitCode.badPid);
      assert.match(result.stderr, /pid 4194304 is not attached/);
    });

    it('detach leaves links, routes, rules and ip_forward exactly as before', async () => {
      const result = await sandbox.hostAgent(['detach', String(guest.pid)]);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, /detached pid/);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('detach again is a no-op that succeeds', async () => {
      const result = await sandbox.hostAgent(['detach', String(guest.pid)]);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, /not attached/);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('detach works after the guest is gone', async () => {
      const doomed = await sandbox.startGuest();
      assert.equal((await sandbox.hostAgent(['attach', String(doomed.pid)])).exitCode, 0);
      await doomed.kill();
      const result = await sandbox.hostAgent(['detach', String(doomed.pid)]);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('serves a guest agent that starts after attach began, and --once exits after applying', async () => {
      const bare = await sandbox.startGuest({ agent: false });
      const attaching = sandbox.hostAgent(['attach', String(bare.pid)]);
      await new Promise((r) => setTimeout(r, 300));
      const agent = await bare.exec([
        'node',
        GUEST_AGENT,
        'run',
        '--once',
        '--socket',
        sandbox.socket,
        '--resolv-conf',
        join(sandbox.dir, 'late.conf'),
      ]);
      assert.equal(agent.exitCode, 0, agent.stderr);
      assert.match(agent.stdout, /applied: wlan0 172\.17\.3\.3\/16/);
      assert.equal((await attaching).exitCode, 0);
      assert.equal((await sandbox.fetchFromGuest(bare)).stdout.trim(), UPLINK.hostAddress);
      assert.equal((await sandbox.hostAgent(['detach', String(bare.pid)])).exitCode, 0);
      await bare.kill();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('keeps waiting for the real guest agent while hostile connections come and go', async () => {
      const bare = await sandbox.startGuest({ agent: false });
      const attaching = sandbox.hostAgent(['attach', String(bare.pid), '--timeout', '20000']);
      await waitFor(() =>
        access(sandbox.socket).then(
          () => true,
          () => false,
        ),
      );
      const hostile = [
        Buffer.from('GET / HTTP/1.0\r\n\r\n'),
        encodeFrame({}),
        encodeFrame({ type: 'constructor' }),
        encodeFrame({ type: 'hello', version: 1, tokens: [], capabilities: [] }),
        encodeFrame({ type: 'hello', version: PROTOCOL_VERSION, links: ['f'.repeat(32)], nonce: 'a'.repeat(32), capabilities: [] }),
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7b]),
        encodeFrame({ type: 'hello' }).subarray(0, 6),
      ];
      const answers = await Promise.all(hostile.map((bytes) => sendAndCollect(sandbox.socket, bytes)));
      for (const answer of answers.slice(1, 6)) assert.match(answer, /"type":"error"/);
      const agent = await bare.exec([
        'node',
        GUEST_AGENT,
        'run',
        '--once',
        '--socket',
        sandbox.socket,
        '--resolv-conf',
        join(sandbox.dir, 'h.conf'),
      ]);
      assert.equal(agent.exitCode, 0, agent.stderr);
      const result = await attaching;
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stderr, /guest connection rejected/);
      assert.equal((await sandbox.hostAgent(['detach', String(bare.pid)])).exitCode, 0);
      await bare.kill();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('--no-wait configures the host side only', async () => {
      const bare = await sandbox.startGuest({ agent: false });
      const result = await sandbox.hostAgent(['attach', String(bare.pid), '--no-wait']);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, /--no-wait/);
      assert.equal((await bare.exec(['ip', 'link', 'show', 'vm_wlan0'])).exitCode, 0);
      assert.equal((await sandbox.hostAgent(['detach', String(bare.pid)])).exitCode, 0);
      await bare.kill();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('--dry-run prints the exact commands and changes nothing', async () => {
      const bare = await sandbox.startGuest({ agent: false });
      const result = await sandbox.hostAgent(['attach', String(bare.pid), '--dry-run']);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(
        result.stdout,
        new RegExp(
          "^ip -batch - <<'EOF'\n" +
            'link add vm_wlan mtu 1500 address 06:67:6e:11:03:03 type veth peer name <one-time-name> mtu 1500 address 02:67:6e:11:03:03 ' +
            `netns /proc/${bare.pid}/ns/net\n` +
            'link set dev vm_wlan alias guestnet-host:\\d+ group \\d+\nlink show dev vm_wlan\nEOF\n' +
            // The host end's settings come before the setup that brings it up.
            '(echo [01] > /proc/sys/net/ipv[46]/conf/vm_wlan/[a-z_0-9]+\n)+' +
            "ip -batch - <<'EOF'\n" +
            'address add 172.17.3.2/32 peer 172.17.3.3/32 dev vm_wlan$',
          'm',
        ),
      );
      assert.match(result.stdout, /^echo 0 > \/proc\/sys\/net\/ipv6\/conf\/vm_wlan\/accept_ra$/m);
      assert.match(
        result.stdout,
        firewall === 'nftables' ? /^nft -f - <<'EOF'$/m : new RegExp(`^${firewall}-restore --noflush -w <<'EOF'$`, 'm'),
      );
      assert.match(result.stdout, /^echo 1 > \/proc\/sys\/net\/ipv4\/ip_forward$/m);
      await bare.kill();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it(`keeps serving: the server at ${SERVER.address} is still reachable by a re-attached guest`, async () => {
      assert.equal((await sandbox.hostAgent(['attach', String(guest.pid)])).exitCode, 0);
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 50));
}

/** Sends raw bytes, half-closes, and returns whatever came back before the server hung up. */
/** Sends `bytes` and collects the answer until the host closes (a hello naming no attached link is answered after a second). */
function sendAndCollect(path: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(path, () => socket.write(bytes));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(received));
    socket.setTimeout(3000, () => socket.destroy());
  });
}
