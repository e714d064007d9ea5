import assert from 'node:assert/strict';
import { RealRunner } from '@guestnet/host-agent';
import { CommandFailedError, ExitCode } from '@guestnet/protocol';

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
