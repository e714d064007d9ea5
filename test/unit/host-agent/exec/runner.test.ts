import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { formatStep, nftables, RealRunner, stepsOf } from '@guestnet/host-agent';
import { CommandFailedError, ExitCode, newOneTimeToken } from '@guestnet/protocol';
import { SpareProcess } from '@guestnet/runtime';
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

describe('the real runner and its spare process', () => {
  // The command writes the pid of the process that ran it: the spare's, spawned ahead, or one spawned for the step.
  const pidFile = `/tmp/guestnet-runner-spare-${process.pid}`;
  const argv = ['sh', '-c', `read line; echo $$ > ${pidFile}`];
  const ranIn = async () => Number((await readFile(pidFile, 'utf8')).trim());
  let spare: SpareProcess;
  beforeEach(() => {
    spare = new SpareProcess(argv);
    spare.keep();
  });
  afterEach(async () => {
    spare.close();
    await rm(pidFile, { force: true });
  });

  it('runs a step that says so in the spare it was given', async () => {
    const waiting = spare.waitingPid;
    assert.ok(waiting !== undefined);
    const runner = new RealRunner(undefined, { ipBatch: spare });
    await runner.perform({ kind: 'run', argv, input: 'go\n', spare: 'ipBatch' });
    assert.equal(await ranIn(), waiting);
    assert.equal(runner.processes, 1);
  });

  it('runs a step in two parts in its spare, the steps between while it waits', async () => {
    const twoParts = ['sh', '-c', `read line; echo $$; read rest; echo $$ > ${pidFile}`];
    const parted = new SpareProcess(twoParts);
    parted.keep();
    const ready = parted.waitingPid;
    const between = `/tmp/guestnet-runner-between-${process.pid}`;
    try {
      await new RealRunner(undefined, { ipBatch: parted }).perform({
        kind: 'run',
        argv: twoParts,
        input: 'first\n',
        spare: 'ipBatch',
        midway: { steps: [{ kind: 'write', path: between, content: 'between\n' }], rest: 'rest\n' },
      });
      assert.equal(await ranIn(), ready);
      assert.equal(await readFile(between, 'utf8'), 'between\n');
    } finally {
      parted.close();
      await rm(between, { force: true });
    }
  });

  it('spawns a step when it was given no spare, and a step that does not say so even when it was', async () => {
    const waiting = spare.waitingPid;
    await new RealRunner().perform({ kind: 'run', argv, input: 'go\n', spare: 'ipBatch' });
    assert.notEqual(await ranIn(), waiting);
    await new RealRunner(undefined, { ipBatch: spare }).perform({ kind: 'run', argv, input: 'go\n' });
    assert.notEqual(await ranIn(), waiting);
    await new RealRunner(undefined, { ipBatch: spare }).perform({ kind: 'run', argv, input: 'go\n', spare: 'nftScript' });
    assert.notEqual(await ranIn(), waiting, 'a step that names another spare');
    assert.equal(spare.waitingPid, waiting, 'the spare still waits');
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
