import assert from 'node:assert/strict';
import type { GuestStatus } from '@guestnet/host-agent';
import { attachDhcpGuest, spawnInGuest, startClient, stopClients } from '../../fixtures/dhcp-guests.js';
import { type Daemon, type FirewallName, type Guest, NODE, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// A dhcp guest with its lease sends DHCP requests from its address to its
// gateway's port 67, as a renewing client does, but as fast as it can. Once
// the server has answered one, the flow is established: the kernel's rate on
// dhcp links (20 a second) must still hold it, or the daemon reads and parses
// every packet. Counted past guestnet's input chain (and iptables' filter
// table): what reaches the socket.

const GATEWAY = '172.17.3.2';
const KERNEL_RATE = 20;
const FLOOD_MS = 3000;
const WATCH = `table ip gn_dhcp_watch {
  chain input { type filter hook input priority filter + 10; udp dport 67 counter; }
}`;

const flood = (mac: string, address: string) => `
const s = require('node:dgram').createSocket('udp4');
const b = Buffer.alloc(240);
b[0] = 1; b[1] = 1; b[2] = 6;
Buffer.from('${address}'.split('.').map(Number)).copy(b, 12);
Buffer.from('${mac}'.split(':').map((h) => parseInt(h, 16))).copy(b, 28);
b.writeUInt32BE(0x63825363, 236);
const request = Buffer.concat([b, Buffer.from([53, 1, 3, 255])]);
s.bind(68, '${address}', () => {
  const end = Date.now() + ${FLOOD_MS};
  let sent = 0;
  const burst = () => {
    if (Date.now() > end) return s.close(() => console.log(sent));
    for (let i = 0; i < 50; i++, sent++) s.send(request, 67, '${GATEWAY}');
    setImmediate(burst);
  };
  burst();
});`;

for (const firewall of ['nftables', 'iptables'] as FirewallName[])
  describe(`faults: a dhcp guest's flood on its established DHCP flow is held to the kernel's rate (${firewall})`, function () {
    this.timeout(120_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let guest: Guest;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      daemon = await sandbox.startDaemon();
    });
    after(async () => {
      await stopClients();
      await daemon?.stop();
      await sandbox?.destroy();
    });

    it('what reaches the daemon stays within the rate, and the guest keeps its lease', async () => {
      guest = await sandbox.startGuest({ agent: false });
      const attachment = await attachDhcpGuest(sandbox, guest);
      const address = attachment.guestAddress;
      const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests as GuestStatus[];
      const mac = status.find((g) => g.pid === guest.pid)?.mac as string;
      const client = await startClient(sandbox, guest, 'udhcpc');
      await client.waitFor(/^bound /, SETTLE_GUARD_MS);
      await stopClients();
      assert.equal((await sandbox.host(['nft', '-f', '-'], WATCH)).exitCode, 0);
      const sent = await spawnInGuest(guest, [NODE, '-e', flood(mac, address)]);
      const counted = (await sandbox.host(['nft', 'list', 'table', 'ip', 'gn_dhcp_watch'])).stdout;
      const reached = Number(/counter packets (\d+)/.exec(counted)?.[1]);
      // The burst, then the rate over the flood's length, with half as much again so that no slow moment decides.
      const allowed = KERNEL_RATE + Math.ceil(((KERNEL_RATE * FLOOD_MS) / 1000) * 1.5);
      assert.ok(Number(sent.stdout) > 10 * allowed, `the flood sent only ${sent.stdout}`);
      assert.ok(reached <= allowed, `${reached} of ${sent.stdout} requests reached the daemon's socket; the rate allows ${allowed}`);
      await sandbox.host(['nft', 'delete', 'table', 'ip', 'gn_dhcp_watch']);
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    });
  });
