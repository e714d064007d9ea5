import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { type Guest, Sandbox, UPLINK } from '../../fixtures/sandbox.js';
import { until } from '../../fixtures/until.js';

// The one-time name a waiting attach gives the guest end is its token. The
// guest agent renames the link, and the kernel logs every rename, in any
// netns, to its one host-wide log ("wlan0: renamed from gn..."), which
// whoever may read the kernel log reads (CAP_SYSLOG, any user where
// kernel.dmesg_restrict=0, the journal's readers, a log shipper). So once the
// guest is configured, the token it proved by that name is replaced by one
// that lives only in the link's alias, and the agent follows it on its own.

type Record = { token: string; guestIf: string };

async function recordOf(sandbox: Sandbox, guest: Guest): Promise<Record> {
  const dir = join(sandbox.stateDir, 'attachments');
  const [file] = (await readdir(dir)).filter((name) => name.startsWith(`${guest.pid}.`));
  return JSON.parse(await readFile(join(dir, file as string), 'utf8')) as Record;
}

/** What the kernel log holds, read as a log reader would. */
const kernelLog = async () => (await execa('dmesg', [], { reject: false })).stdout;

const aliasIn = async (guest: Guest) =>
  (JSON.parse((await guest.exec(['ip', '-j', 'link', 'show', 'dev', 'wlan0'])).stdout) as Array<{ ifalias?: string }>)[0]?.ifalias;

/** The attach left its guest a token that is in no kernel log line, the one its link alias carries, and a working network. */
async function assertRotatedAway(sandbox: Sandbox, guest: Guest): Promise<void> {
  const record = await until(
    () => recordOf(sandbox, guest),
    (r) => r.token !== `guestnet:${r.guestIf}`,
  );
  assert.match(record.guestIf, /^gn[A-Za-z0-9]{13}$/, 'the attach made no one-time name');
  const log = await kernelLog();
  // The sandbox really met the leak: the first name is in the log.
  assert.ok(log.includes(`renamed from ${record.guestIf}`), 'the kernel logged no rename of the one-time name');
  assert.notEqual(record.token, `guestnet:${record.guestIf}`, 'the token is still the name the kernel logged');
  const secret = record.token.replace(/^guestnet:/, '');
  assert.deepEqual(
    log.split('\n').filter((line) => line.includes(secret)),
    [],
    'the token is in the kernel log',
  );
  assert.equal(
    await until(
      () => aliasIn(guest),
      (alias) => alias === record.token,
    ),
    record.token,
  );
  assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
}

describe('faults: the one-time name in the kernel log', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  beforeEach(async () => {
    sandbox = await Sandbox.create();
  });
  afterEach(async () => sandbox?.destroy());

  it('daemon: the token is rotated after the first session, which the agent keeps', async () => {
    const daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest();
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const session = JSON.parse((await guest.agentStatus(true)).stdout).host;
    assert.equal(session.state, 'connected');
    await assertRotatedAway(sandbox, guest);
    assert.ok(daemon.output().includes('gave a guest link a new token: the kernel logged its old one'), daemon.output());
    assert.deepEqual(JSON.parse((await guest.agentStatus(true)).stdout).host, session, 'the rotation cost the agent its session');
    // The agent proves its new token to the next daemon.
    await daemon.stop();
    const next = await sandbox.startDaemon();
    const status = await until(
      async () => JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests[0],
      (g) => g?.agent === 'connected',
    );
    assert.equal(status.agent, 'connected');
    await next.stop();
  });

  it('one-shot: the attach rotates the token before it exits', async () => {
    const guest = await sandbox.startGuest();
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const record = await recordOf(sandbox, guest);
    assert.notEqual(record.token, `guestnet:${record.guestIf}`, 'the attach exited with the token the kernel logged');
    await assertRotatedAway(sandbox, guest);
  });
});
