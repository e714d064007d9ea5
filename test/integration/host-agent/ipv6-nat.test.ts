import assert from 'node:assert/strict';
import { hostDefaultRoute6, hostGlobalAddress, RA_UPLINK, startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { FIREWALLS, type Guest, Sandbox, SERVER6, tcpClientScript, UPLINK } from '../../fixtures/sandbox.js';

const GUEST_PORT = 9600;
const UDP_PORT = 9601;
const FORWARD_PORT = 9602;
const FORWARDED_PORT = 9603;
const sysctl = (sandbox: Sandbox, key: string) => sandbox.host(['sysctl', '-n', key]).then((r) => r.stdout.trim());

// A dual-stack uplink whose IPv6 comes from router advertisements, as at home
// or on a carrier: guests get a unique local address and leave by NAT66.
for (const firewall of FIREWALLS)
  describe(`IPv6 for guests behind NAT66, on an uplink configured by router advertisements (${firewall})`, function () {
    this.timeout(90_000);
    let sandbox: Sandbox;
    let guest: Guest;
    let hostAddress: string;
    let pristine: string;
    let guest6: string;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      hostAddress = await startRaUplink(sandbox);
      guest = await sandbox.startGuest();
      pristine = await sandbox.hostSnapshot();
    });
    after(async () => sandbox?.destroy());

    it('attach gives the guest a unique local address and an IPv6 default route via the host (--ipv6 auto)', async () => {
      const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as {
        guests: Array<{ ipv6?: { mode: string; address: string; gateway: string; uplink: string } }>;
      };
      const ipv6 = status.guests[0]?.ipv6;
      assert.equal(ipv6?.mode, 'nat');
      assert.equal(ipv6?.uplink, 'wlan0');
      assert.match(ipv6?.address ?? '', /^fd[0-9a-f]{2}:[0-9a-f:]+:ac11:303$/, 'the pool is a ULA and the guest part its IPv4 address');
      guest6 = ipv6?.address ?? '';
      const shown = (await guest.exec(['ip', '-6', 'address', 'show', 'dev', 'wlan0', 'scope', 'global'])).stdout;
      assert.match(shown, new RegExp(`inet6 ${guest6}/64`));
      assert.match(
        (await guest.exec(['ip', '-6', 'route', 'show', 'default'])).stdout,
        new RegExp(`default via ${ipv6?.gateway} dev wlan0`),
      );
      const shownByAgent = await guest.agentStatus();
      const agentStatus = `${shownByAgent.stdout}${shownByAgent.stderr}`;
      assert.match(agentStatus, new RegExp(`^address\\s+172\\.17\\.3\\.3/16, ${guest6}/64$`, 'm'));
      assert.match(agentStatus, new RegExp(`^route6\\s+default via ${ipv6?.gateway} dev wlan0$`, 'm'));
      assert.equal(await sysctl(sandbox, 'net.ipv6.conf.all.forwarding'), '1');
      assert.equal(await sysctl(sandbox, 'net.ipv6.conf.wlan0.accept_ra'), '2', 'the uplink keeps taking router advertisements');
    });

    it("the guest reaches an IPv6 server, which sees the host's uplink address", async () => {
      let seen = '';
      for (let i = 0; i < 20 && seen !== hostAddress; i++) seen = (await sandbox.fetch6FromGuest(guest, 500)).stdout.trim();
      assert.equal(seen, hostAddress);
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress, 'and IPv4 still works');
    });

    it('a new inbound IPv6 connection to the guest is refused, even with a route to it', async () => {
      // Servers end themselves: a killed `timeout` would leave its child holding the test's pipes.
      const listener = guest.spawn([
        'node',
        '-e',
        `require('node:net').createServer((s) => s.end('guest')).listen(${GUEST_PORT}, '::', () => console.log('ready'));
        setTimeout(() => process.exit(0), 8000);`,
      ]);
      listener.catch(() => {});
      await new Promise((resolve) => listener.stdout?.once('data', resolve));
      await sandbox.inet(['ip', '-6', 'route', 'replace', `${guest6}/128`, 'via', hostAddress]);
      const inbound = await sandbox.inet(['node', '-e', tcpClientScript(guest6, GUEST_PORT, 1500)]);
      assert.notEqual(inbound.stdout.trim(), 'guest', 'a connection from the internet reached the guest');
      const own = await guest.exec(['node', '-e', tcpClientScript('::1', GUEST_PORT, 1500)]);
      assert.equal(own.stdout.trim(), 'guest', 'the listener itself was up');
    });

    it("a port forward reaches the guest over IPv6 too, from the internet to the host's uplink address", async () => {
      const listener = guest.spawn([
        'node',
        '-e',
        `require('node:net').createServer((s) => s.end('guest ' + s.remoteAddress)).listen(${FORWARDED_PORT}, '::', () => console.log('ready'));
        setTimeout(() => process.exit(0), 8000);`,
      ]);
      listener.catch(() => {});
      await new Promise((resolve) => listener.stdout?.once('data', resolve));
      const added = await sandbox.hostAgent(['forward', String(guest.pid), `${FORWARD_PORT}:${FORWARDED_PORT}/tcp`]);
      assert.equal(added.exitCode, 0, added.stderr);
      try {
        let answer = '';
        for (let i = 0; i < 10 && !answer.startsWith('guest'); i++)
          answer = (await sandbox.inet(['node', '-e', tcpClientScript(hostAddress, FORWARD_PORT, 1000)])).stdout.trim();
        assert.equal(answer, `guest ${RA_UPLINK.router}`, 'the guest sees the client as it is');
        const four = await sandbox.inet(['node', '-e', tcpClientScript(UPLINK.hostAddress, FORWARD_PORT, 1000)]);
        assert.equal(four.stdout.trim(), `guest ::ffff:${UPLINK.inetAddress}`, 'and over IPv4');
      } finally {
        assert.equal(
          (await sandbox.hostAgent(['forward', String(guest.pid), `${FORWARD_PORT}:${FORWARDED_PORT}`, '--remove'])).exitCode,
          0,
        );
      }
    });

    it('a guest cannot send from an address that is not its own', async () => {
      // UDP, so the server hears a datagram whether or not a reply could find its way back.
      const heard = sandbox.serveIn(sandbox.inetNs, [
        'node',
        '-e',
        `const s = require('node:dgram').createSocket('udp6'); s.on('message', (m, r) => console.log(r.address + ' ' + m));
        s.bind(${UDP_PORT}, '${SERVER6.address}', () => console.log('ready')); setTimeout(() => process.exit(0), 6000);`,
      ]);
      heard.catch(() => {});
      let output = '';
      heard.stdout?.on('data', (chunk) => (output += chunk));
      for (let i = 0; i < 100 && !output.includes('ready'); i++) await new Promise((r) => setTimeout(r, 20));
      const spoofed = guest6.replace(/ac11:303$/, '99');
      await guest.exec(['ip', '-6', 'address', 'add', `${spoofed}/128`, 'dev', 'wlan0', 'nodad']);
      const send = (from: string, text: string) =>
        guest.exec([
          'node',
          '-e',
          `const s = require('node:dgram').createSocket('udp6');
          s.bind(0, '${from}', () => s.send('${text}', ${UDP_PORT}, '${SERVER6.address}', () => s.close()));`,
        ]);
      try {
        for (let i = 0; i < 5; i++) {
          await send(spoofed, 'spoofed');
          await send(guest6, 'own');
        }
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        await guest.exec(['ip', '-6', 'address', 'del', `${spoofed}/128`, 'dev', 'wlan0']);
      }
      const lines = output.split('\n');
      assert.ok(lines.includes(`${hostAddress} own`), `the guest's own datagrams arrive, masqueraded: ${lines.join(' | ')}`);
      assert.ok(!lines.some((l) => l.endsWith(' spoofed')), `a spoofed datagram got through: ${lines.join(' | ')}`);
    });

    if (firewall === 'nftables') {
      it('after longer than the default lifetime of the router advertisements, the host still has its RA-learned default route', async function () {
        this.timeout(60_000);
        await new Promise((r) => setTimeout(r, (RA_UPLINK.defaultLifetime + 4) * 1000));
        assert.notEqual(await hostDefaultRoute6(sandbox), '', 'the default route expired: router advertisements were ignored');
        assert.equal(await hostGlobalAddress(sandbox), hostAddress);
      });
    }

    it('detach restores the rules and both sysctls, leaving the host as it was', async () => {
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      assert.equal(await sysctl(sandbox, 'net.ipv6.conf.all.forwarding'), '0');
      assert.equal(await sysctl(sandbox, 'net.ipv6.conf.wlan0.accept_ra'), '1');
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
