import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '@guestnet/protocol';
import { GUEST_AGENT, Sandbox, SETTLE_GUARD_MS } from '../../fixtures/sandbox.js';
import { leakIn, sampleTokens, secretsOfToken } from '../../fixtures/secrets.js';

// Launchers and journals keep what the agents print: no token, one-time name,
// or 8 characters of either may be in a dry run's commands, an error, a log
// line, a status or a status file. The secrets are read from the kernel and
// the records; what is printed shows placeholders.

const ONE_TIME_NAME_LIKE = /gn[A-Za-z0-9]{13}/;
const TOKEN_LIKE = /guestnet:(?:[0-9a-f]{8}|gn[A-Za-z0-9]{4})/;

describe('no token in any output', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;

  beforeEach(async () => {
    sandbox = await Sandbox.create();
  });
  afterEach(async () => sandbox?.destroy());

  it('a dry run shows placeholders for the one-time name and the token, fresh or again', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const fresh = await sandbox.hostAgent(['attach', String(guest.pid), '--dry-run']);
    assert.equal(fresh.exitCode, 0, fresh.stderr);
    assert.doesNotMatch(fresh.stdout, ONE_TIME_NAME_LIKE);
    assert.doesNotMatch(fresh.stdout, TOKEN_LIKE);
    assert.match(fresh.stdout, /peer name <one-time-name> mtu/);
    assert.match(fresh.stdout, /"token": "<token>"/);

    assert.equal((await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait'])).exitCode, 0);
    const { token } = JSON.parse(await readFile(join(sandbox.stateDir, 'attachments', `${guest.pid}.json`), 'utf8'));
    const again = await sandbox.hostAgent(['attach', String(guest.pid), '--no-wait', '--dry-run', '--verbose']);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal(leakIn(again.stdout + again.stderr, secretsOfToken(token)), undefined, again.stdout);
    assert.doesNotMatch(again.stdout, TOKEN_LIKE);
    assert.match(again.stdout, /link set dev \S+ alias <token>/);
  });

  it('an error that quotes what the guest said shows no token (one-shot and daemon, --json and --verbose)', async () => {
    for (const daemon of [false, true]) {
      const running = daemon ? await sandbox.startDaemon() : undefined;
      for (const flags of [['--json'], ['--verbose']]) {
        const guest = await sandbox.startGuest({ agent: false });
        const sampler = await sampleTokens(guest);
        const attaching = sandbox.hostAgent(['attach', String(guest.pid), ...flags]);
        // A one-shot attach listens once the host side is made.
        for (
          let i = 0;
          i < 400 &&
          !(await access(sandbox.socket).then(
            () => true,
            () => false,
          ));
          i++
        )
          await new Promise((r) => setTimeout(r, 25));
        // A guest that reports its link under its one-time name, which is its token.
        const session = sandbox.rawGuest(guest, 'own', [], { name: '<own-name>' });
        const attach = await attaching;
        await session;
        const secrets = await sampler.stop();
        assert.ok(secrets.length >= 2, 'no token was sampled');
        assert.equal(attach.exitCode, ExitCode.guestApplyFailed, attach.stdout + attach.stderr);
        assert.match(attach.stdout + attach.stderr, /the guest agent reports link name <one-time-name>, not wlan0/);
        const shown = attach.stdout + attach.stderr + (running?.output() ?? '');
        assert.equal(leakIn(shown, secrets), undefined, shown);
        await guest.kill();
      }
      await running?.stop();
    }
  });

  it("logs, status and the guest's status file show no token, through a rotation and a detach", async () => {
    const daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest({ agent: false });
    const sampler = await sampleTokens(guest);
    const agent = guest.spawn(['node', GUEST_AGENT, 'run', '--socket', sandbox.socket, ...guest.files, '--verbose']);
    agent.catch(() => {});
    let agentLog = '';
    agent.stderr?.on('data', (chunk: Buffer) => (agentLog += chunk));
    const attached = await sandbox.hostAgent(['attach', String(guest.pid), '--verbose']);
    assert.equal(attached.exitCode, 0, attached.stderr);
    // A re-attach rotates the token: the old one and the new one are both secrets.
    const again = await sandbox.hostAgent(['attach', String(guest.pid), '--json']);
    assert.equal(again.exitCode, 0, again.stderr);
    const shown = [attached.stdout, attached.stderr, again.stdout];
    for (const args of [['status'], ['status', '--json']]) shown.push((await sandbox.hostAgent(args)).stdout);
    for (const json of [false, true]) shown.push((await guest.agentStatus(json)).stdout);
    shown.push(await readFile(guest.files[3] as string, 'utf8'));
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    // What the agent logs of the detach: the release, or its link gone.
    const started = Date.now();
    while (!/released by the host|closed the session/.test(agentLog) && Date.now() - started < SETTLE_GUARD_MS)
      await new Promise((r) => setTimeout(r, 50));
    const secrets = await sampler.stop();
    shown.push(agentLog, daemon.output());
    const leak = leakIn(shown.join('\n'), secrets);
    assert.equal(leak, undefined, `a token showed: ${leak}`);
    assert.ok(secrets.length >= 3, `the tokens were not all sampled, the rotated one included: ${secrets.length}`);
    await daemon.stop();
  });
});
