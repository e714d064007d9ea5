import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { execa } from 'execa';
import { DNS, GUEST_AGENT, type Guest, Sandbox } from '../../fixtures/sandbox.js';

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what} did not happen within 5 s`);
}

describe('guest-agent status: what the guest has and how its agent is doing', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let guest: Guest;
  const status = async () => {
    const result = await guest.agentStatus(true);
    if (result.exitCode !== 0) throw new Error(`guest-agent status exited ${result.exitCode}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  before(async () => {
    sandbox = await Sandbox.create();
    await sandbox.startDaemon();
    guest = await sandbox.startGuest();
  });
  after(async () => sandbox?.destroy());

  it('before any attach: the agent runs and waits for its link', async () => {
    await until('the agent writing its status', async () => (await status()).agent.running);
    const before = await status();
    assert.equal(before.host.state, 'waiting for our link');
    assert.equal(before.link, undefined);
    assert.equal(before.defaultRoute, undefined);
  });

  it('once attached: link, address, route, DNS, host connection and last apply, as JSON and as lines', async () => {
    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid)])).exitCode, 0);
    await until('the agent reporting connected', async () => (await status()).host.state === 'connected');
    const after = await status();
    assert.deepEqual(after.link, { name: 'wlan0', mtu: 1500, up: true, addresses: ['172.17.3.3/16'] });
    assert.deepEqual(after.defaultRoute, { gateway: '172.17.3.2', dev: 'wlan0' });
    assert.equal(after.mainReachable, true);
    assert.deepEqual(after.dns, [DNS]);
    assert.equal(after.lastApply.ok, true);
    assert.equal(after.host.socket, sandbox.socket);
    const text = (await guest.agentStatus()).stdout;
    assert.match(text, /^agent\s+running \(pid \d+\)$/m);
    // A long value goes on under itself: the lines fit an 80-column adb shell.
    assert.match(text, /^host\s+connected since \S+\s+\(.*guest\.sock\)$/m);
    assert.ok(Math.max(...text.split('\n').map((line) => line.length)) <= 80, text);
    assert.match(text, /^link\s+wlan0 up, mtu 1500$/m);
    assert.match(text, /^address\s+172\.17\.3\.3\/16$/m);
    assert.match(text, /^route\s+default via 172\.17\.3\.2 dev wlan0$/m);
    assert.match(text, /^last apply\s+ok at \S+, \d+ changes$/m);
  });

  it('after a detach the agent has released the link and waits for the next one', async () => {
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await until('the agent waiting again', async () => (await status()).host.state === 'waiting for our link');
    assert.equal((await status()).link, undefined);
  });

  it('an agent stopped with SIGTERM is reported as not running, not as a stale connection', async () => {
    // Not the guest's pid 1: stopping that would end the whole guest.
    const other = await sandbox.startGuest({ agent: false });
    const statusFile = other.files[other.files.indexOf('--status-file') + 1] as string;
    other.spawn(['node', GUEST_AGENT, 'run', '--socket', sandbox.socket, ...other.files]);
    const running = async () => JSON.parse((await other.agentStatus(true)).stdout).agent.running as boolean;
    await until('the agent starting', running);
    const agentPid = (await execa('pgrep', ['-f', '--', `^node .*--status-file ${statusFile}`])).stdout.trim();
    process.kill(Number(agentPid), 'SIGTERM');
    await until('the agent stopping', async () => !(await running()));
    assert.match((await other.agentStatus()).stdout, /^agent\s+not running$/m);
    await assert.rejects(access(statusFile), 'the status file outlived the agent');
  });
});
