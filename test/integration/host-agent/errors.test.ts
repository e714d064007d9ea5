import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '@guestnet/protocol';
import { type CommandResult, type Guest, HOST_AGENT, Sandbox } from '../../fixtures/sandbox.js';

/** One line on stderr, no stack trace, and the expected exit code. */
function assertOneLineError(result: CommandResult, exitCode: number, pattern: RegExp): void {
  assert.equal(result.exitCode, exitCode, `exit ${result.exitCode}: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0] ?? '', /^host-agent: /);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

describe('host-agent failures: one clear line, a distinct exit code, nothing left behind', () => {
  let sandbox: Sandbox;
  let guest: Guest;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create();
    guest = await sandbox.startGuest({ agent: false });
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => sandbox?.destroy());
  afterEach(async () => assert.equal(await sandbox.hostSnapshot(), pristine, 'the host netns changed'));

  it('a pid that is not a number', async () => {
    assertOneLineError(await sandbox.hostAgent(['attach', 'abc']), ExitCode.badPid, /'abc' is not a process id/);
  });

  it('a pid with no process', async () => {
    assertOneLineError(await sandbox.hostAgent(['attach', '4194304']), ExitCode.badPid, /no process with pid 4194304/);
  });

  it("a pid in the host's own netns", async () => {
    const pid = (await sandbox.host(['sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!'])).stdout.trim();
    try {
      assertOneLineError(await sandbox.hostAgent(['attach', pid]), ExitCode.badPid, /shares the host's network namespace/);
    } finally {
      process.kill(Number(pid));
    }
  });

  it('an unknown flag', async () => {
    assertOneLineError(
      await sandbox.hostAgent(['attach', String(guest.pid), '--frobnicate']),
      ExitCode.usage,
      /unknown option '--frobnicate'/,
    );
  });

  it('a bad flag value', async () => {
    assertOneLineError(
      await sandbox.hostAgent(['attach', String(guest.pid), '--host-if', 'eth0;reboot']),
      ExitCode.usage,
      /--host-if: .* not a valid interface name/,
    );
  });

  it('a config with an unknown key or a bad value', async () => {
    const path = join(sandbox.dir, 'bad.json');
    await writeFile(path, JSON.stringify({ mtu: 9 }));
    assertOneLineError(await sandbox.hostAgent(['attach', String(guest.pid), '--config', path]), ExitCode.config, /key 'mtu' .*MTU/);
    await writeFile(path, JSON.stringify({ hostIff: 'x' }));
    assertOneLineError(await sandbox.hostAgent(['attach', String(guest.pid), '--config', path]), ExitCode.config, /unknown key 'hostIff'/);
  });

  it('not root', async () => {
    const result = await sandbox.host([
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      HOST_AGENT,
      'attach',
      String(guest.pid),
    ]);
    assertOneLineError(result, ExitCode.notRoot, /needs root/);
  });

  it('a missing tool', async () => {
    const result = await sandbox.host(['env', 'PATH=/nonexistent', process.execPath, HOST_AGENT, 'attach', String(guest.pid)]);
    assertOneLineError(result, ExitCode.missingTool, /'ip' was not found in PATH; install the 'iproute2' package/);
  });

  it('a host link name that is already taken', async () => {
    await sandbox.host(['ip', 'link', 'add', 'vm_wlan', 'type', 'veth', 'peer', 'name', 'taken0']);
    try {
      const result = await sandbox.hostAgent(['attach', String(guest.pid), '--host-if', 'vm_wlan']);
      assertOneLineError(result, ExitCode.nameTaken, /a link named vm_wlan already exists/);
    } finally {
      await sandbox.host(['ip', 'link', 'del', 'vm_wlan']);
    }
  });

  it('a guest link name that is already taken in the guest: the host side is rolled back', async () => {
    await guest.exec(['ip', 'link', 'add', 'vm_wlan0', 'type', 'veth', 'peer', 'name', 'other0']);
    try {
      // Without --no-wait the guest end is made under a one-time name, which nothing else has.
      const result = await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait']);
      assertOneLineError(result, ExitCode.commandFailed, /File exists/);
    } finally {
      await guest.exec(['ip', 'link', 'del', 'vm_wlan0']);
    }
  });

  it('an uplink that does not exist', async () => {
    assertOneLineError(
      await sandbox.hostAgent(['attach', String(guest.pid), '--uplink', 'rmnet_data9']),
      ExitCode.uplinkNotFound,
      /uplink rmnet_data9 does not exist/,
    );
  });

  it('no default route to find the uplink by', async () => {
    await sandbox.host(['ip', 'route', 'del', 'default']);
    try {
      assertOneLineError(await sandbox.hostAgent(['attach', String(guest.pid)]), ExitCode.uplinkNotFound, /no IPv4 default route/);
    } finally {
      await sandbox.host(['ip', 'route', 'add', 'default', 'via', '198.51.100.1']);
    }
  });

  it('no guest agent within --timeout: exits non-zero and rolls the host side back', async () => {
    const result = await sandbox.hostAgent(['attach', String(guest.pid), '--timeout', '500']);
    assertOneLineError(result, ExitCode.guestTimeout, /did not confirm within 500 ms; the host side was rolled back/);
    assert.deepEqual(
      (await guest.exec(['ip', '-o', 'link', 'show'])).stdout.split('\n').filter(Boolean).length,
      1,
      'the guest end is still there',
    );
  });

  it('SIGTERM while waiting for the guest agent: rolls back and says so', async () => {
    const attaching = sandbox.hostAgent(['attach', String(guest.pid), '--timeout', '20000']);
    await waitFor(async () => (await guest.exec(['ip', '-o', 'link', 'show'])).stdout.includes(': gn'));
    const pid = (await sandbox.host(['pgrep', '-f', `host-agent.js attach ${guest.pid}`])).stdout.trim();
    process.kill(Number(pid), 'SIGTERM');
    assertOneLineError(
      await attaching,
      ExitCode.interrupted,
      /interrupted by SIGTERM while waiting for the guest agent; the host side was rolled back/,
    );
  });

  it('--json errors are one JSON object on stdout', async () => {
    const result = await sandbox.hostAgent(['attach', 'abc', '--json']);
    assert.equal(result.exitCode, ExitCode.badPid);
    assert.deepEqual(JSON.parse(result.stdout), {
      error: { code: 'badPid', exitCode: ExitCode.badPid, message: "'abc' is not a process id" },
    });
  });

  it('--verbose adds the stack trace', async () => {
    const result = await sandbox.hostAgent(['attach', 'abc', '--verbose']);
    assert.equal(result.exitCode, ExitCode.badPid);
    assert.match(result.stderr, /\n\s+at /);
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 50));
}
