import assert from 'node:assert/strict';
import { processesDuring } from '../../bench/measure.js';
import { daemonAttach, daemonDetach } from '../../bench/systems.js';
import { addLan, LAN, lanSettled } from '../../fixtures/lan.js';
import { type NicStandIn, nicStandIn } from '../../fixtures/nic-stand-in.js';
import { type Daemon, Sandbox } from '../../fixtures/sandbox.js';

// What the routed veth's attach got, the other types get too: a warm daemon
// plans from what it remembers and spends its processes on changes. Counted
// from a real trace of the daemon (its guest agent's apply is not counted):
// a bridged guest's port lock and its pair (with iptables, its port let
// through both families' chains, which come and go with it), a macvlan made
// and moved, a NIC handed over, an empty guest's loopback brought up, each
// with no read on the way. The firewall's lane runs beside the link's: the
// order of their processes is the machine's.

const FIREWALLS = {
  nftables: { veth: ['ip -batch -', 'nft -f -'] },
  iptables: { veth: ['ip -batch -', 'ip6tables-restore --noflush -w', 'iptables-restore --noflush -w', 'nft -f -'] },
} as const;

const TYPES = [
  { type: 'veth', link: 'br0', guestAddress: '192.168.77.60' },
  { type: 'macvlan', link: 'eth1', guestAddress: '192.168.77.61', writes: ['ip -batch -'] },
  { type: 'phys', link: 'eth2', guestAddress: '192.168.77.62', writes: ['ip -batch -'] },
  // No link and no rules: only the guest's loopback comes up.
  { type: 'empty', writes: ['ip link set dev lo up'] },
];

/** A command as the trace names it, without the directory a shim or PATH put before it. */
const bare = (command: string) => command.replace(/^\S*\//, '');

for (const [firewall, expected] of Object.entries(FIREWALLS) as Array<[keyof typeof FIREWALLS, { veth: readonly string[] }]>)
  describe(`host-agent serve: the processes of a warm attach of each LAN type (${firewall})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let nic: NicStandIn;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      await addLan(sandbox);
      nic = await nicStandIn(sandbox);
      const path = process.env.PATH;
      process.env.PATH = nic.path;
      daemon = await sandbox.startDaemon().finally(() => {
        process.env.PATH = path;
      });
    });
    after(async () => {
      await daemon?.stop();
      await nic?.remove();
      await sandbox?.destroy();
    });

    /** One attach of `type` until its agent confirmed, then its detach; returns what the daemon ran for the attach. */
    async function attachOnce({ type, link, guestAddress }: { type: string; link?: string; guestAddress?: string }, count: boolean) {
      const guest = await sandbox.startGuest();
      // The agent's start, the detach before and the daemon's re-reads after it are over before the count starts.
      await new Promise((r) => setTimeout(r, 1000));
      const attach = () => daemonAttach(sandbox, guest.pid, true, { type, link, pool: LAN.subnet, gateway: LAN.router, guestAddress });
      const ran = count ? await processesDuring([daemon.pid], attach) : await attach().then(() => []);
      await daemonDetach(sandbox, guest.pid);
      await guest.kill();
      await lanSettled(sandbox);
      return ran.map(bare).sort();
    }

    it('each type runs only its changes, and reads nothing', async () => {
      // The first attach of each type is the daemon's warm-up: what it asks then, it remembers.
      for (const t of TYPES) await attachOnce(t, false);
      const ran: Record<string, string[]> = {};
      for (const t of TYPES) ran[t.type] = await attachOnce(t, true);
      assert.deepEqual(ran, Object.fromEntries(TYPES.map((t) => [t.type, t.writes ?? expected.veth])));
    });
  });
