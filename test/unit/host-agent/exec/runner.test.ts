import assert from 'node:assert/strict';
import { formatStep, nftables, RealRunner, stepsOf } from '@guestnet/host-agent';
import { CommandFailedError, ExitCode, newOneTimeToken } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';

describe('the real runner', () => {
  it('fails a step whose command outlives its deadline with exit 9, naming the command and "timed out"', async () => {
    const runner = new RealRunner(200);
    await assert.rejects(
      runner.perform({ kind: 'run', argv: ['sleep', '30'] }),
      (error: Error) =>
        error instanceof CommandFailedError &&
        error.exitCode === ExitCode.commandFailed &&
        /^sleep 30: timed out after 200 ms/.test(error.message),
    );
    await assert.rejects(runner.read(['sleep', '30']), /sleep 30: timed out after 200 ms/);
  });

  it('lets a step that would tolerate its error still fail when it times out', async () => {
    const runner = new RealRunner(200);
    await assert.rejects(runner.perform({ kind: 'run', argv: ['sleep', '30'], tolerate: /.*/ }), /timed out/);
  });
});

const ctx = { firewall: nftables, stateDir: '/state' };

describe('runner: a step that carries a token is never printed with it', () => {
  const token = newOneTimeToken();
  const name = token.slice('guestnet:'.length);
  const record = sampleRecord({ token, guestIf: name });

  it("a dry run's commands show placeholders for the one-time name and the token", () => {
    const printed = [...stepsOf({ kind: 'writeRecord', record }, ctx), ...stepsOf({ kind: 'createVeth', record }, ctx)]
      .map((step) => formatStep(step, [token, name]))
      .join('\n');
    assert.ok(!printed.includes(name), printed);
    assert.match(printed, /peer name <one-time-name> mtu/);
    assert.match(printed, /"token": "<token>"/);
  });

  it('a command that fails quotes neither in its error, its argv or its stderr', async () => {
    const step = { kind: 'run' as const, argv: ['sh', '-c', 'echo "Cannot find device $0" >&2; exit 1', name] };
    const failure = await new RealRunner().perform(step, [token, name]).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(failure instanceof CommandFailedError);
    assert.ok(![failure.message, failure.stderr, ...failure.argv].some((text) => text.includes(name)), failure.message);
    assert.match(failure.stderr, /Cannot find device <one-time-name>/);
  });
});
