import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { callDaemon } from '@guestnet/host-agent';
import { type Daemon, type Guest, HOST_AGENT, SETTLE_GUARD_MS, Sandbox } from '../../fixtures/sandbox.js';

// Group commit: the attaches of a farm that boots at once, sent in one
// request, are planned together in the daemon: one `ip -batch` makes every
// guest's pair, one firewall transaction admits them all. Every process the
// daemon runs is traced (its stdin reads too: the `ip -batch` it keeps warm
// was started before the request); each guest still gets its own result.

const GUESTS = 10;
/** How many of them the detach test takes away together. */
const DETACHED = 6;

/** Per traced process: what it ran, and what it read on its stdin. */
function traced(log: string): Map<string, { argv: string[]; stdin: string }> {
  const processes = new Map<string, { argv: string[]; stdin: string }>();
  const waiting = new Set<string>();
  const of = (pid: string) => processes.get(pid) ?? processes.set(pid, { argv: [], stdin: '' }).get(pid)!;
  for (const line of log.split('\n')) {
    const exec = /^(\d+) +execve\("[^"]*", \[([^\]]*)\]/.exec(line);
    if (exec) of(exec[1] as string).argv = [...(exec[2] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1] ?? '');
    // A read strace saw begin and end apart (another process's call came between) is two lines.
    if (/^\d+ +read\(0, +<unfinished/.test(line)) waiting.add(line.split(' ')[0] as string);
    const resumed = /^(\d+) +<\.\.\. read resumed>"((?:[^"\\]|\\.)*)"/.exec(line);
    const read = /^(\d+) +read\(0, "((?:[^"\\]|\\.)*)"/.exec(line) ?? (resumed && waiting.delete(resumed[1] as string) ? resumed : null);
    if (read) of(read[1] as string).stdin += (read[2] ?? '').replaceAll('\\n', '\n');
  }
  return processes;
}

const isFirewallWrite = (argv: string[]) => {
  const tool = argv[0]?.split('/').pop() ?? '';
  if (tool === 'nft') return argv.includes('-f');
  if (/^ip6?tables(-legacy|-nft)?-restore$/.test(tool)) return true;
  return /^ip6?tables(-legacy|-nft)?$/.test(tool) && argv.some((a) => /^-[ADIFXNR]$/.test(a));
};

/** strace following the daemon and every process it starts, once it holds the daemon; stop() ends it. */
async function traceDaemon(daemon: Daemon, log: string): Promise<{ stop(): Promise<unknown> }> {
  const strace = execa(
    'strace',
    ['-f', '-e', 'trace=execve,read', '-e', 'signal=none', '-s', '65536', '-o', log, '-p', String(daemon.pid)],
    { reject: false, buffer: { stderr: true } },
  );
  // strace says so on stderr once it holds the daemon.
  await new Promise<void>((resolve) => {
    let said = '';
    strace.stderr?.on('data', (chunk: Buffer) => {
      said += chunk;
      if (/attached/.test(said)) resolve();
    });
    void strace.then(() => resolve());
  });
  return {
    stop: () => {
      strace.kill('SIGINT');
      return strace;
    },
  };
}

describe('group commit: a farm attached in one request', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  let daemon: Daemon;
  const guests: Guest[] = [];

  before(async () => {
    sandbox = await Sandbox.create();
    daemon = await sandbox.startDaemon();
    for (let i = 0; i < GUESTS; i++) guests.push(await sandbox.startGuest());
  });
  after(async () => sandbox?.destroy());

  it(`runs one ip -batch and one firewall transaction for ${GUESTS} waiting attaches, each guest confirmed`, async () => {
    const log = join(sandbox.dir, 'strace-group.log');
    const strace = await traceDaemon(daemon, log);
    // A guest attached first, the firewall made, as on a host that serves already; the `ip -batch` the daemon then
    // keeps ready is started under strace.
    const first = await sandbox.startGuest({ agent: false });
    assert.equal((await sandbox.hostAgent(['attach', String(first.pid), '--no-wait'])).exitCode, 0);
    const warm = (text: string) => [...traced(text).values()].some((p) => p.argv.join(' ') === 'ip -batch -' && p.stdin === '');
    for (let i = 0; i < SETTLE_GUARD_MS / 50 && !warm(await readFile(log, 'utf8')); i++) await new Promise((r) => setTimeout(r, 50));
    const attached = await sandbox.hostAgent(['attach', ...guests.map((g) => String(g.pid)), '--json']);
    await strace.stop();
    assert.equal(attached.exitCode, 0, attached.stderr);
    const { results } = JSON.parse(attached.stdout) as {
      results: Array<{ pid: number; ok: boolean; result: { guest: unknown; attachment: { hostIf: string } } }>;
    };
    assert.deepEqual(
      results.map((r) => r.pid),
      guests.map((g) => g.pid),
    );
    for (const r of results) assert.ok(r.ok && typeof r.result.guest === 'object', `pid ${r.pid} confirmed by its agent`);

    const hostIfs = results.map((r) => r.result.attachment.hostIf);
    const processes = [...traced(await readFile(log, 'utf8')).values()];
    const forGroup = (p: { stdin: string }) => hostIfs.some((name) => new RegExp(`(?<![\\w-])${name}(?![\\w-])`).test(p.stdin));
    const pairMakers = processes.filter((p) => forGroup(p) && /^link add /m.test(p.stdin));
    assert.deepEqual(
      pairMakers.map((p) => [p.argv.join(' '), p.stdin.match(/^link add /gm)?.length]),
      [['ip -batch -', GUESTS]],
    );
    const firewallWrites = processes.filter((p) => isFirewallWrite(p.argv) && forGroup(p));
    assert.deepEqual(
      firewallWrites.map((p) => p.argv.join(' ')),
      ['nft -f -'],
    );
  });

  it(`detaches that arrive together share one firewall transaction and one process for their links, each with its own result`, async () => {
    const leaving = guests.slice(0, DETACHED);
    const log = join(sandbox.dir, 'strace-detach.log');
    const strace = await traceDaemon(daemon, log);
    const hostIfs = await Promise.all(
      leaving.map(
        async (g) =>
          (JSON.parse(await readFile(join(sandbox.stateDir, 'attachments', `${g.pid}.json`), 'utf8')) as { hostIf: string }).hostIf,
      ),
    );
    // Sent at once, as a launcher stopping a farm does: the first may start alone, the rest wait for it and go together.
    const detached = await Promise.all(leaving.map((g) => callDaemon(sandbox.stateDir, { type: 'detach', pid: g.pid }, SETTLE_GUARD_MS)));
    await strace.stop();
    assert.deepEqual(
      detached
        .map((d) => (d.served ? (d.result as { pid: number; wasAttached: boolean }) : undefined))
        .map((r) => [r?.pid, r?.wasAttached]),
      leaving.map((g) => [g.pid, true]),
    );
    const processes = [...traced(await readFile(log, 'utf8')).values()];
    const names = (p: { argv: string[]; stdin: string }) => [p.stdin, ...p.argv].join(' ');
    const forGroup = (p: { argv: string[]; stdin: string }) =>
      hostIfs.some((name) => new RegExp(`(?<![\\w-])${name}(?![\\w-])`).test(names(p)));
    const linkRemovers = processes.filter((p) => forGroup(p) && /\bdel\b/.test(names(p)) && !isFirewallWrite(p.argv));
    assert.ok(linkRemovers.length <= 2, `${linkRemovers.length} processes removed the ${leaving.length} links`);
    const firewallWrites = processes.filter((p) => isFirewallWrite(p.argv) && forGroup(p));
    assert.ok(firewallWrites.length <= 2, `${firewallWrites.length} firewall transactions for ${leaving.length} detaches`);
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as { guests: Array<{ pid: number }> };
    for (const g of leaving) assert.ok(!status.guests.some((s) => s.pid === g.pid), `pid ${g.pid} is detached`);
    const links = await sandbox.host(['ip', '-br', 'link', 'show']);
    for (const name of hostIfs) assert.doesNotMatch(links.stdout, new RegExp(`^${name}[@ ]`, 'm'));
  });

  it('gives a pid that is no guest its own error, and attaches the others', async () => {
    const more = [await sandbox.startGuest({ agent: false }), await sandbox.startGuest({ agent: false })];
    const result = await sandbox.hostAgent(['attach', String(more[0]?.pid), '999999', String(more[1]?.pid), '--no-wait']);
    assert.equal(result.exitCode, 6, result.stderr);
    assert.match(result.stdout, new RegExp(`^attached pid ${more[0]?.pid}$`, 'm'));
    assert.match(result.stdout, new RegExp(`^attached pid ${more[1]?.pid}$`, 'm'));
    assert.match(result.stderr, /^host-agent: pid 999999: /m);
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as { guests: unknown[] };
    assert.equal(status.guests.length, GUESTS - DETACHED + 3);
  });
});

// An `ip` first on the daemon's PATH that fails any batch making a pair in
// the netns of the pid in `bad-pid`, as the kernel would refuse one guest:
// the group's batch fails, is undone whole, and each member goes alone.
const FAILING_IP = `#!/bin/bash
set -o pipefail
if [ "$#" -ne 2 ] || [ "$1" != -batch ] || [ "$2" != - ]; then exec /usr/sbin/ip "$@"; fi
bad="$(cat "$(dirname "$0")/bad-pid" 2>/dev/null)"
while IFS= read -r line; do
  case "$line" in *"netns /proc/$bad/ns/net"*) [ -n "$bad" ] && { echo "RTNETLINK answers: refused for the test" >&2; exit 2; } ;; esac
  printf '%s\\n' "$line"
done | /usr/sbin/ip -batch -
`;

describe('group commit: one guest the kernel refuses', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it('fails that guest alone, with nothing of it left, and attaches the rest of its group', async () => {
    const bin = join(sandbox.dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'ip'), FAILING_IP);
    await chmod(join(bin, 'ip'), 0o755);
    const guests = [];
    for (let i = 0; i < 4; i++) guests.push(await sandbox.startGuest());
    const bad = guests[2] as Guest;
    await writeFile(join(bin, 'bad-pid'), String(bad.pid));
    const daemon = await sandbox.startDaemon([], HOST_AGENT, { PATH: `${bin}:${process.env.PATH}` });
    const result = await sandbox.hostAgent(['attach', ...guests.map((g) => String(g.pid)), '--json']);
    const { results } = JSON.parse(result.stdout) as { results: Array<{ pid: number; ok: boolean; error?: { message: string } }> };
    assert.deepEqual(
      results.map((r) => [r.pid, r.ok]),
      guests.map((g) => [g.pid, g !== bad]),
      result.stdout,
    );
    assert.match(results[2]?.error?.message ?? '', /refused for the test/);
    assert.notEqual(result.exitCode, 0);
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout) as { guests: Array<{ pid: number }> };
    assert.deepEqual(
      status.guests.map((g) => g.pid).sort(),
      guests
        .filter((g) => g !== bad)
        .map((g) => g.pid)
        .sort(),
    );
    // Its pair was never made, or went with the rollback: only the others' host ends are left.
    const links = await sandbox.host(['ip', '-br', 'link', 'show', 'group', '26478']);
    assert.equal(links.stdout.trim().split('\n').filter(Boolean).length, 3, links.stdout);
    assert.match(daemon.output(), /"message":"attach failed for"/);
  });
});
