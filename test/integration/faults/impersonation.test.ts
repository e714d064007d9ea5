import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, linkIdOf } from '@guestnet/protocol';
import { GUEST_AGENT, type Guest, Sandbox, UPLINK } from '../../fixtures/sandbox.js';
import { until } from '../../fixtures/until.js';

// An attacker in a netns of its own is handed the victim's real token (as a
// stolen one would be, out of band). From there it must get no session: the
// host refuses it whatever it proves, logs it, keeps the victim's own session
// and gives the victim's link a new token, which the victim's agent follows
// on its own.

const recordOf = async (sandbox: Sandbox, pid: number) =>
  JSON.parse(await readFile(join(sandbox.stateDir, 'attachments', `${pid}.json`), 'utf8')) as { token: string };

/** The alias the kernel shows on the guest's wlan0. */
const aliasIn = async (guest: Guest, name = 'wlan0') =>
  (JSON.parse((await guest.exec(['ip', '-j', 'link', 'show', 'dev', name])).stdout) as Array<{ ifalias?: string }>)[0]?.ifalias;

const types = (frames: Array<Record<string, unknown> | 'closed'>) => frames.map((f) => (f === 'closed' ? f : f.type));

describe('faults: a stolen token used from another netns', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;

  beforeEach(async () => {
    sandbox = await Sandbox.create();
  });
  afterEach(async () => sandbox?.destroy());

  it('daemon: its sessions are refused and logged, the victim keeps its session, and the token is rotated', async () => {
    const daemon = await sandbox.startDaemon();
    const victim = await sandbox.startGuest();
    assert.equal((await sandbox.hostAgent(['attach', String(victim.pid)])).exitCode, 0);
    // A first name is rotated once its guest is configured (faults/token-kmsg): what is stolen is the token after that.
    const stolen =
      (await until(
        () => aliasIn(victim),
        (alias) => alias?.startsWith('guestnet:') === true && !alias.startsWith('guestnet:gn'),
      )) ?? '';
    assert.match(stolen, /^guestnet:[0-9a-f]{32}$/, `no token on the victim's link: ${stolen}`);
    const agentBefore = JSON.parse((await victim.agentStatus(true)).stdout).host;
    assert.equal(agentBefore.state, 'connected');

    const attacker = await sandbox.startGuest({ agent: false });
    const frames = await sandbox.rawGuest(attacker, stolen);
    assert.deepEqual(types(frames), ['challenge', 'error', 'closed'], JSON.stringify(frames));
    assert.equal((frames[1] as Record<string, unknown>).code, 'wrongNetns');
    assert.ok(
      daemon
        .output()
        .split('\n')
        .some((line) => line.includes('refused a guest session from another netns') && line.includes('"proof":"valid"')),
      daemon.output(),
    );

    // The token is rotated, in the kernel and in the record alike.
    const rotated = await until(
      () => aliasIn(victim),
      (alias) => alias !== stolen,
    );
    assert.notEqual(rotated, stolen, 'the token was not rotated');
    assert.equal((await recordOf(sandbox, victim.pid)).token, rotated);
    // The victim's session lived on: its agent never reconnected.
    const agentAfter = JSON.parse((await victim.agentStatus(true)).stdout).host;
    assert.deepEqual(agentAfter, agentBefore, "the victim's agent lost its session");
    const guest = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests[0];
    assert.equal(guest.agent, 'connected');
    assert.equal(guest.lastApply.ok, true);
    assert.equal((await sandbox.fetchFromGuest(victim)).stdout.trim(), UPLINK.hostAddress);

    // The stolen token is worth nothing now, and the victim's agent follows its new token through a re-attach's rotation too.
    assert.deepEqual((await sandbox.rawGuest(attacker, stolen))[0], {
      type: 'error',
      code: 'unknownLink',
      message: 'none of your links is attached here',
    });
    const again = await sandbox.hostAgent(['attach', String(victim.pid), '--json']);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(JSON.stringify(JSON.parse(again.stdout).steps), /give the link of pid \d+ a new token/);
    assert.notEqual(await aliasIn(victim), rotated, 'a re-attach did not rotate the token');
    assert.deepEqual(JSON.parse((await victim.agentStatus(true)).stdout).host, agentBefore, 'the re-attach cost the victim its session');
    // A new configuration after the rotations (the uplink's MTU followed) reaches the agent over the session it kept.
    assert.equal((await sandbox.host(['ip', 'link', 'set', 'dev', 'wlan0', 'mtu', '1400'])).exitCode, 0);
    const mtuOf = async () => JSON.parse((await victim.exec(['ip', '-j', 'link', 'show', 'dev', 'wlan0'])).stdout)[0]?.mtu as number;
    assert.equal(await until(mtuOf, (mtu) => mtu === 1400), 1400, "the victim's agent did not apply the new MTU");
    assert.deepEqual(JSON.parse((await victim.agentStatus(true)).stdout).host, agentBefore);
    assert.equal((await sandbox.fetchFromGuest(victim)).stdout.trim(), UPLINK.hostAddress);
    await daemon.stop();
  });

  it('one-shot: its session is refused while the attach waits, the victim is attached, and the token is rotated after', async () => {
    const victim = await sandbox.startGuest({ agent: false });
    const attaching = sandbox.hostAgent(['attach', String(victim.pid), '--timeout', '20000', '--verbose']);
    const stolen = (
      await until(
        () => recordOf(sandbox, victim.pid).catch(() => ({ token: '' })),
        (record) => record.token !== '',
      )
    ).token;
    const attacker = await sandbox.startGuest({ agent: false });
    const frames = await sandbox.rawGuest(attacker, stolen);
    assert.deepEqual(types(frames), ['challenge', 'error', 'closed'], JSON.stringify(frames));
    const agent = victim.spawn(['node', GUEST_AGENT, 'run', '--socket', sandbox.socket, ...victim.files]);
    agent.catch(() => {});
    const attached = await attaching;
    assert.equal(attached.exitCode, ExitCode.ok, attached.stderr);
    assert.match(attached.stderr, /guest connection rejected/);
    const now = (await recordOf(sandbox, victim.pid)).token;
    assert.notEqual(now, stolen, 'the token was not rotated');
    assert.equal(
      await until(
        () => aliasIn(victim),
        (alias) => alias === now,
      ),
      now,
    );
    assert.notEqual(linkIdOf(now), linkIdOf(stolen));
    assert.equal((await sandbox.fetchFromGuest(victim)).stdout.trim(), UPLINK.hostAddress);
  });
});
