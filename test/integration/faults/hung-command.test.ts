import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '@guestnet/protocol';
import { type Daemon, type Guest, HOST_AGENT, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';

// A firewall tool that hangs (a wedged netlink, a reload, `iptables -w`
// waiting for a lock someone keeps) must not wedge the daemon: the command is
// killed at its deadline, the attach fails with exit 9 and is rolled back,
// status answers all along, and once the tool works again so does everything.
// The hang is made at the process boundary: wrappers earlier on the daemon's
// PATH block while a flag file exists, and otherwise exec the real tool. A
// firewall tool's wrapper first reads its input, as the tool does, and only
// then hangs, as a tool does once it talks to a wedged kernel: one the daemon
// spawned ahead (nft -f) waits for its input first, and is not yet hung.

const TOOLS = {
  nftables: ['nft'],
  iptables: ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'],
} as const;
const DEADLINE_MS = 6000;

/** The pids of processes whose command line runs something in `dir`. */
async function runningFrom(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg.startsWith(`${dir}/`))) pids.push(Number(name));
  }
  return pids;
}

/** Whether `pid` still runs (a zombie waiting to be reaped does not). */
async function running(pid: number): Promise<boolean> {
  const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return state !== '' && !/^\d+ \(.*\) Z /.test(state);
}

for (const firewall of ['nftables', 'iptables'] as const)
  describe(`faults: a firewall tool that hangs (${firewall})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let daemon: Daemon;
    let bin: string;
    let hangDir: string;
    let flag: string;
    let ipFlag: string;
    let pristine: string;
    let first: Guest;
    let second: Guest;

    before(async () => {
      sandbox = await Sandbox.create(firewall);
      pristine = await sandbox.hostSnapshot();
      bin = join(sandbox.dir, 'bin');
      hangDir = join(sandbox.dir, 'hung');
      flag = join(sandbox.dir, 'hang');
      ipFlag = join(sandbox.dir, 'hang-ip');
      await mkdir(bin);
      await mkdir(hangDir);
      for (const tool of TOOLS[firewall]) {
        const real = (await sandbox.host(['sh', '-c', `command -v ${tool}`])).stdout.trim();
        assert.ok(real.startsWith('/'), `${tool} not found`);
        await writeFile(join(hangDir, tool), `#!/bin/sh\nwhile [ -e ${flag} ]; do sleep 0.05; done\nexec ${real} "$@"\n`);
        // The input as it came, trailing newlines included (a command substitution would drop them).
        await writeFile(join(bin, tool), `#!/bin/sh\ninput=$(cat; echo .)\nprintf '%s' "\${input%.}" | ${join(hangDir, tool)} "$@"\n`);
        await Promise.all([chmod(join(hangDir, tool), 0o755), chmod(join(bin, tool), 0o755)]);
      }
      const ip = (await sandbox.host(['sh', '-c', 'command -v ip'])).stdout.trim();
      await writeFile(join(hangDir, 'ip'), `#!/bin/sh\nwhile [ -e ${ipFlag} ]; do sleep 0.05; done\nexec ${ip} "$@"\n`);
      await chmod(join(hangDir, 'ip'), 0o755);
      daemon = await sandbox.startDaemon(['--command-timeout', String(DEADLINE_MS)], HOST_AGENT, {
        PATH: `${bin}:${hangDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
      });
      first = await sandbox.startGuest();
      second = await sandbox.startGuest();
    });
    after(async () => sandbox?.destroy());

    it('attaches and detaches through the wrappers while the tool works', async () => {
      const attached = await sandbox.hostAgent(['attach', String(first.pid)]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.equal((await sandbox.hostAgent(['detach', String(first.pid)])).exitCode, 0);
    });

    // With no guest attached, an attach has the firewall's base to make: it cannot miss the hang.
    it('fails the attach that meets the hang with exit 9, naming the command and "timed out"', async () => {
      await writeFile(flag, '');
      const attaching = sandbox.hostAgent(['attach', String(second.pid)]);
      let hung: number[] = [];
      for (let i = 0; i < SETTLE_GUARD_MS / 50 && hung.length === 0; i++) {
        hung = await runningFrom(hangDir);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(hung.length > 0, 'no firewall command ran into the hang');
      const result = await attaching;
      assert.equal(result.exitCode, ExitCode.commandFailed, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /^host-agent: (nft|ip6?tables(-save|-restore)?)( [^:]*)?: timed out after 6000 ms/);
      // Killed, not left to run on whenever the tool comes back: a read beside the one that failed first meets its
      // own deadline a moment later.
      let left = hung;
      for (let i = 0; i < SETTLE_GUARD_MS / 50 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        left = (await Promise.all(left.map(async (pid) => ((await running(pid)) ? [pid] : [])))).flat();
      }
      assert.deepEqual(left, [], 'the hung commands still run');
      // The flag is still there: whatever the firewall holds now is what the attach left.
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('attaches and detaches again once the tool works, and no hung command is left', async () => {
      await rm(flag);
      for (const guest of [second, first]) {
        const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
        assert.equal(attached.exitCode, 0, attached.stderr);
      }
      for (const guest of [second, first]) {
        const detached = await sandbox.hostAgent(['detach', String(guest.pid)]);
        assert.equal(detached.exitCode, 0, detached.stderr);
      }
      assert.deepEqual(await runningFrom(hangDir), []);
      await daemon.stop();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    // Status reads nothing that can hang: links and counters from sysfs, and while a change is under way, published
    // ports from what the firewall last answered it. `ip` hangs too here, behind its own flag.
    // The hang lasts until the test ends it, however long status takes on a loaded machine: no deadline ends it first.
    it('status answers, listing the guest and its published port, while ip and the firewall tool hang', async () => {
      const env = { PATH: `${bin}:${hangDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
      daemon = await sandbox.startDaemon(['--command-timeout', String(10 * SETTLE_GUARD_MS)], HOST_AGENT, env);
      try {
        const attached = await sandbox.hostAgent(['attach', String(first.pid)]);
        assert.equal(attached.exitCode, 0, attached.stderr);
        const forwarded = await sandbox.hostAgent(['forward', String(first.pid), '8080:80/tcp']);
        assert.equal(forwarded.exitCode, 0, forwarded.stderr);
        const forwardsOfFirst = async () => {
          const status = await sandbox.hostAgent(['status', '--json']);
          assert.equal(status.exitCode, 0, status.stderr);
          const listed = (JSON.parse(status.stdout) as { guests: { pid: number; forwards: unknown[] }[] }).guests;
          const shown = listed.find((g) => g.pid === first.pid);
          assert.ok(shown, status.stdout);
          return shown.forwards;
        };
        const inForce = [{ protocol: 'tcp', hostPort: 8080, guestPort: 80, inForce: true }];
        assert.deepEqual(await forwardsOfFirst(), inForce);
        await writeFile(ipFlag, '');
        await writeFile(flag, '');
        // A change that meets the hang: a forward, which needs only the firewall, so that what it leaves does not hang on
        // which of its processes the daemon had spawned ahead.
        const forwarding = sandbox.hostAgent(['forward', String(first.pid), '8081:81/tcp']);
        for (let i = 0; i < SETTLE_GUARD_MS / 50 && (await runningFrom(hangDir)).length === 0; i++)
          await new Promise((r) => setTimeout(r, 50));
        assert.ok((await runningFrom(hangDir)).length > 0, 'no command ran into the hang');
        assert.deepEqual(
          (await forwardsOfFirst()).filter((f) => (f as { hostPort: number }).hostPort === 8080),
          inForce,
        );
        const table = await sandbox.hostAgent(['status']);
        assert.equal(table.exitCode, 0, table.stderr);
        assert.ok((await runningFrom(hangDir)).length > 0, 'status answered only after the hang was over');
        await rm(ipFlag);
        await rm(flag);
        const forwardedLater = await forwarding;
        assert.equal(forwardedLater.exitCode, 0, forwardedLater.stderr);
      } finally {
        await rm(ipFlag, { force: true });
        await rm(flag, { force: true });
        const detached = await sandbox.hostAgent(['detach', String(first.pid)]);
        await daemon.stop();
        assert.equal(detached.exitCode, 0, detached.stderr);
      }
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });

    it('stops on SIGTERM while a command hangs, leaving no hung command behind, and the next daemon takes over', async () => {
      const env = { PATH: `${bin}:${hangDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
      daemon = await sandbox.startDaemon(['--command-timeout', String(DEADLINE_MS)], HOST_AGENT, env);
      assert.equal((await sandbox.hostAgent(['attach', String(first.pid)])).exitCode, 0);
      await writeFile(flag, '');
      // The loop that checks the host every second runs into the hang on its own.
      for (let i = 0; i < SETTLE_GUARD_MS / 50 && (await runningFrom(hangDir)).length === 0; i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok((await runningFrom(hangDir)).length > 0, 'no firewall command ran into the hang');
      // Sent by hand: the stop waits for work under way, up to its deadline, and the fixture's stop would SIGKILL sooner.
      process.kill(daemon.pid, 'SIGTERM');
      const ended = await daemon.ended;
      assert.deepEqual(ended, { exitCode: 0, signal: undefined }, daemon.output());
      assert.deepEqual([...(await runningFrom(bin)), ...(await runningFrom(hangDir))], [], 'commands outlived the daemon');
      await rm(flag);
      daemon = await sandbox.startDaemon();
      assert.equal((await sandbox.hostAgent(['detach', String(first.pid)])).exitCode, 0);
      await daemon.stop();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
