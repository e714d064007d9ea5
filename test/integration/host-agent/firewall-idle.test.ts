import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attachDhcpGuest } from '../../fixtures/dhcp-guests.js';
import { startRaUplink } from '../../fixtures/ipv6-uplink.js';
import { type Daemon, FIREWALLS, Sandbox } from '../../fixtures/sandbox.js';

// The daemon's reconcile loop reads the firewall every second. When nothing
// changes it must write nothing: its check compares the rules it would write
// with the ones it reads back, like with like. Every process the daemon
// starts is recorded with strace while guests of every kind sit attached.

/** How long the daemon is watched: ten passes of its loop. */
const WATCH_S = 10;

/** A process that changes the firewall, from its argv as strace prints it. */
const isFirewallWrite = (argv: string[]) => {
  const tool = argv[0]?.split('/').pop() ?? '';
  if (tool === 'nft') return argv.includes('-f');
  if (/^ip6?tables(-legacy|-nft)?-restore$/.test(tool)) return true;
  return /^ip6?tables(-legacy|-nft)?$/.test(tool) && argv.some((a) => /^-[ADIFXNR]$/.test(a));
};

/** The argv of each execve in an strace log. */
function execs(log: string): string[][] {
  return [...log.matchAll(/execve\("[^"]*", \[([^\]]*)\]/g)].map((m) =>
    [...(m[1] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1] ?? ''),
  );
}

for (const firewall of FIREWALLS)
  describe(`the firewall is left alone while nothing changes (${firewall})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let daemon: Daemon;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      await startRaUplink(sandbox);
      daemon = await sandbox.startDaemon();
      // IPv4 and IPv6 guests, guests open to each other, port forwards of both protocols, a dhcp guest (its MAC and rate checks).
      const kinds = [['--guest-to-guest'], ['--ipv6', 'off', '--guest-to-guest'], [], ['--ipv6', 'off']];
      const guests = [];
      for (const args of kinds) {
        const guest = await sandbox.startGuest();
        const attached = await sandbox.hostAgent(['attach', String(guest.pid), ...args]);
        assert.equal(attached.exitCode, 0, attached.stderr);
        guests.push(guest);
      }
      await attachDhcpGuest(sandbox, await sandbox.startGuest({ agent: false }));
      assert.equal((await sandbox.hostAgent(['forward', String(guests[0]?.pid), '5555:5555'])).exitCode, 0);
      assert.equal((await sandbox.hostAgent(['forward', String(guests[1]?.pid), '5353:53/udp'])).exitCode, 0);
    });
    after(async () => sandbox?.destroy());

    it(`runs no firewall write in ${WATCH_S} s of steady state, while it keeps reading the firewall`, async () => {
      const log = join(sandbox.dir, 'strace.log');
      // The daemon spawns its firewall tool ahead again shortly after each run (exec/spares.ts): the setup's last
      // is waiting before the watch begins, so a firewall process spawned within it follows a write.
      await new Promise((r) => setTimeout(r, 1000));
      // SIGINT detaches strace from the daemon, which runs on.
      await execa(
        'timeout',
        [
          '-s',
          'INT',
          String(WATCH_S),
          'strace',
          '-f',
          '-qq',
          '-e',
          'trace=execve',
          '-e',
          'signal=none',
          '-o',
          log,
          '-p',
          String(daemon.pid),
        ],
        {
          reject: false,
        },
      );
      const ran = execs(await readFile(log, 'utf8'));
      const reads = ran.filter((argv) => /^(nft|ip6?tables(-legacy)?-save)$/.test(argv[0]?.split('/').pop() ?? ''));
      assert.ok(reads.length >= WATCH_S / 2, `strace saw the loop read the firewall only ${reads.length} times`);
      assert.deepEqual(
        ran.filter(isFirewallWrite).map((argv) => argv.join(' ')),
        [],
      );
    });
  });
