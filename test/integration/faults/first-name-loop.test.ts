import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { type Guest, NODE, Sandbox } from '../../fixtures/sandbox.js';

// A first-name token is rotated once its guest is configured (protocol/README.md
// "Rotation"). A guest (root in its netns, so hostile by the trust model)
// that renames its link out of its one-time name and keeps the token out of
// the alias leaves the daemon nothing to rotate: the token stays the name the
// kernel logged, which exposes that guest alone. Its later sessions, within
// its netns' budget, must not each buy another look into its netns and the
// state lock: the daemon tries once, says so in one line, and leaves it.

const HOLDER = fileURLToPath(new URL('./first-name-holder.js', import.meta.url));
const SESSIONS = 12;

async function recordOf(sandbox: Sandbox, guest: Guest): Promise<{ token: string; guestIf: string }> {
  const dir = join(sandbox.stateDir, 'attachments');
  const [file] = (await readdir(dir)).filter((name) => name.startsWith(`${guest.pid}.`));
  return JSON.parse(await readFile(join(dir, file as string), 'utf8'));
}

describe("faults: a guest's sessions each cost the daemon a first-name rotation attempt", function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  beforeEach(async () => {
    sandbox = await Sandbox.create();
  });
  afterEach(async () => sandbox?.destroy());

  it('a guest that keeps its token out of every link buys one look into its netns per session', async () => {
    const daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest({ agent: false });
    const holder = guest.spawn([NODE, HOLDER, sandbox.socket, String(SESSIONS)]);
    let output = '';
    holder.stdout?.on('data', (chunk: Buffer) => (output += chunk));
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    for (let i = 0; i < 200 && !output.includes('first'); i++) await new Promise((r) => setTimeout(r, 25));
    // Every process the daemon starts from here on, while the guest opens its sessions.
    const trace = join(sandbox.dir, 'daemon.strace');
    const strace = execa('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, '-p', String(daemon.pid)], { reject: false });
    await new Promise((r) => setTimeout(r, 500));
    await holder;
    strace.kill('SIGINT');
    await strace;
    const record = await recordOf(sandbox, guest);
    assert.equal(record.token, `guestnet:${record.guestIf}`, 'precondition: the token stayed the logged first name');
    const summary = JSON.parse(output.trim().split('\n').at(-1) as string) as Record<string, number>;
    assert.ok((summary.configured ?? 0) >= SESSIONS / 2, `the guest's sessions were refused: ${output}`);
    // Processes the daemon started (execve that succeeded), by what they ran.
    const started = (await readFile(trace, 'utf8')).split('\n').filter((line) => /execve\(.*\) = 0$/.test(line));
    const ran = started.map((line) => /\[(.*?)\]/.exec(line)?.[1] ?? line);
    const counts = new Map<string, number>();
    for (const argv of ran) counts.set(argv, (counts.get(argv) ?? 0) + 1);
    const looks = ran.filter((argv) => argv.startsWith('"nsenter"')).length;
    // A first try that finds nothing may be fair; one per session is what the guest buys.
    const all = [...counts].map(([argv, n]) => `${n} ${argv}`).join('\n');
    assert.ok(
      looks <= 1,
      `for ${summary.configured} sessions of one guest the daemon looked into its netns ${looks} times, in all:\n${all}`,
    );
    const warned = daemon
      .output()
      .split('\n')
      .filter((line) => line.includes('shows no link carrying its token'));
    assert.equal(warned.length, 1, daemon.output());
    await daemon.stop();
  });
});
