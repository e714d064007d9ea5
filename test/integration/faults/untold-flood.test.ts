import assert from 'node:assert/strict';
import { readlink } from 'node:fs/promises';
import { execa } from 'execa';
import { type Guest, Sandbox } from '../../fixtures/sandbox.js';

// A flooder whose connections come from a netns no process is in: the host
// cannot tell where they come from. Its netns is looked for only among the
// attachments' (and those seen lately), never through every netns of the
// machine, and its connections share one budget for all that cannot be told.
// The daemon's reads of socket tables are counted with strace, not timed:
// while the flood runs and a guest attaches, no table but that guest's is
// read, however many other netns the machine has.

// Makes a netns of its own, keeps it by an fd only, and connects from it in a
// loop: each socket is made in that netns, and the process goes back to its
// own at once, so the flood's netns has no process in it to read its table by.
const FLOOD = String.raw`
use strict; use Socket;
my ($path, $count) = @ARGV;
my ($SETNS, $UNSHARE) = split /,/, $ENV{SYSCALLS};
my $NEWNET = 0x40000000;
open(my $home, '<', '/proc/self/ns/net') or die "home: $!";
syscall($UNSHARE, $NEWNET) == 0 or die "unshare: $!";
open(my $empty, '<', '/proc/self/ns/net') or die "netns: $!";
syscall($SETNS, fileno($home), $NEWNET) == 0 or die "setns: $!";
$| = 1;
print "started\n";
my $connected = 0;
for (my $i = 0; $i < $count; $i++) {
  syscall($SETNS, fileno($empty), $NEWNET) == 0 or die "setns: $!";
  socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
  syscall($SETNS, fileno($home), $NEWNET) == 0 or die "setns: $!";
  $connected++ if connect($s, pack_sockaddr_un($path));
  close($s);
}
print "connected $connected\n";`;

// setns and unshare, by the machine's numbers.
const SYSCALLS: Record<string, string> = { x64: '308,272', arm64: '268,97' };

const CONNECTIONS = 20_000;
const BYSTANDERS = 6;

describe("faults: a flood from a netns the host cannot tell costs no read of every netns' table", function () {
  this.timeout(240_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => sandbox?.destroy());

  it("reads only the attached guest's table, holds the flood to one budget, and the guest attaches", async () => {
    const pristine = await sandbox.hostSnapshot();
    // Netns beside the guest's, each with a process whose table could be read.
    const bystanders: Guest[] = [];
    for (let i = 0; i < BYSTANDERS; i++) bystanders.push(await sandbox.startGuest({ agent: false }));
    const daemon = await sandbox.startDaemon();
    const trace = execa('strace', ['-f', '-qq', '-e', 'trace=openat', '-e', 'signal=none', '-p', String(daemon.pid)], {
      reject: false,
    });
    let traced = '';
    trace.stderr?.on('data', (chunk: Buffer) => (traced += chunk));
    // strace is attached once the daemon's next open shows.
    for (let i = 0; i < 200 && !traced.includes('openat'); i++) {
      await sandbox.hostAgent(['status']);
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(traced, /openat/, 'strace follows the daemon');

    const syscalls = SYSCALLS[process.arch];
    assert.ok(syscalls, `no setns and unshare numbers for ${process.arch}`);
    const flood = sandbox.serveIn(sandbox.hostNs, [
      'env',
      `SYSCALLS=${syscalls}`,
      'perl',
      '-e',
      FLOOD,
      sandbox.socket,
      String(CONNECTIONS),
    ]);
    let output = '';
    flood.stdout?.on('data', (chunk: Buffer) => (output += chunk));
    for (let i = 0; i < 400 && !output.includes('started'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(output, /started/, `the flood did not start: ${(await flood.catch((e) => e)).stderr ?? ''}`);

    const guest = await sandbox.startGuest();
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.match(attached.stdout, /guest agent confirmed wlan0/);
    const result = await flood;
    assert.match(String(result.stdout), new RegExp(`connected ${CONNECTIONS}`), String(result.stderr));

    // Which netns each table read was of, while every process read through still lives.
    const ours = await readlink(`/proc/${guest.pid}/ns/net`);
    const pids = [...traced.matchAll(/openat\(AT_FDCWD, "\/proc\/(\d+)\/net\/unix"/g)].map((m) => m[1] as string);
    const readOf = await Promise.all(pids.map((pid) => readlink(`/proc/${pid}/ns/net`).catch(() => `gone (pid ${pid})`)));
    trace.kill('SIGINT');
    await trace;
    const others = readOf.filter((netns) => netns !== ours);
    assert.deepEqual(others, [], `${others.length} of ${readOf.length} table reads were of netns without an attachment`);
    assert.ok(readOf.length > 0, "the guest's own table was read, to tell its agent's session");

    const overRate = daemon
      .output()
      .split('\n')
      .filter((line) => line.includes('guest connections beyond their netns rate'));
    assert.ok(
      overRate.some((line) => line.includes('an untold netns')),
      `the flood was held to the budget of what cannot be told: ${overRate.join('\n')}`,
    );

    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await daemon.stop();
    await guest.kill();
    for (const bystander of bystanders) await bystander.kill();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
