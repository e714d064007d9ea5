import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { CommandFailedError } from '@guestnet/protocol';
import { runCommand, runCommandInParts, startCommand } from '@guestnet/runtime';

describe('runtime command runner', () => {
  it('resolves with the exit code, stdout and stderr, final newline stripped', async () => {
    const result = await runCommand(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(result, { exitCode: 3, stdout: 'out', stderr: 'err' });
  });

  it('passes its input on stdin, and none when there is none', async () => {
    assert.equal((await runCommand(['cat'], 'line one\nline two\n')).stdout, 'line one\nline two');
    assert.equal((await runCommand(['cat'])).stdout, '');
  });

  it('never goes through a shell: metacharacters are plain arguments', async () => {
    assert.equal((await runCommand(['echo', '$(id)', ';', 'ls'])).stdout, '$(id) ; ls');
  });

  it('runs tools in the C locale, so their messages can be matched', async () => {
    assert.equal((await runCommand(['sh', '-c', 'echo $LC_ALL'])).stdout, 'C');
  });

  it('rejects with CommandFailedError when the command cannot run', async () => {
    await assert.rejects(
      runCommand(['guestnet-no-such-tool']),
      (error: Error) => error instanceof CommandFailedError && /ENOENT/.test(error.message),
    );
  });

  it('rejects when the command is killed by a signal', async () => {
    await assert.rejects(runCommand(['sh', '-c', 'kill -9 $$']), CommandFailedError);
  });

  /** Whether `pid` still runs (a zombie waiting to be reaped does not). */
  const running = async (pid: number) => {
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return state !== '' && !/^\d+ \(.*\) Z /.test(state);
  };
  /** Waits, within a guard, until none of `pids` runs. */
  const gone = async (pids: number[]) => {
    for (let i = 0; i < 200 && (await Promise.all(pids.map(running))).some(Boolean); i++) await new Promise((r) => setTimeout(r, 20));
    return !(await Promise.all(pids.map(running))).some(Boolean);
  };

  it('kills a command still running at its deadline, with what it started, and fails naming it and "timed out"', async () => {
    // The shell starts a child that holds its pipes, as a wrapper around a hung tool would.
    const pidsFile = `/tmp/guestnet-deadline-${process.pid}`;
    const argv = ['sh', '-c', `sleep 60 & echo $$ $! > ${pidsFile}; echo waiting >&2; wait`];
    await assert.rejects(
      runCommand(argv, undefined, 300),
      (error: Error) =>
        error instanceof CommandFailedError &&
        error.commandExitCode === undefined &&
        /^sh -c .*: timed out after 300 ms/.test(error.message),
    );
    const pids = (await readFile(pidsFile, 'utf8')).trim().split(' ').map(Number);
    await rm(pidsFile, { force: true });
    assert.equal(pids.length, 2);
    assert.ok(await gone(pids), `left running: ${pids.join(' ')}`);
  });

  it('says what a command printed before its deadline: a tool waiting for a lock names it', async () => {
    await assert.rejects(
      runCommand(['sh', '-c', 'echo "holding the lock" >&2; exec sleep 60'], undefined, 300),
      /timed out .*holding the lock/,
    );
  });

  it('does not leave a command under way behind when the agent exits, nor what it started', async () => {
    // The agent exits while its command still runs (a read in the background when a daemon stops, say).
    const pidsFile = `/tmp/guestnet-exit-${process.pid}`;
    const script = `import { runCommand } from '@guestnet/runtime';
      import { existsSync } from 'node:fs';
      void runCommand(['sh', '-c', 'sleep 60 & echo $$ $! > ${pidsFile}.tmp && mv ${pidsFile}.tmp ${pidsFile}; wait']).catch(() => {});
      const ready = setInterval(() => existsSync('${pidsFile}') && process.exit(0), 20);`;
    await new Promise<void>((resolve) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, () => resolve()),
    );
    const pids = (await readFile(pidsFile, 'utf8')).trim().split(' ').map(Number);
    await rm(pidsFile, { force: true });
    assert.equal(pids.length, 2);
    assert.ok(await gone(pids), `left running after the agent exited: ${pids.join(' ')}`);
  });

  it('feeds one process its input in two parts, with work between once the first part has printed', async () => {
    // A shell that reads line by line: it prints after the first part, and only then may the work between run.
    const shell = ['sh', '-c', 'while read -r line; do echo "$line"; done'];
    const order: string[] = [];
    const result = await runCommandInParts(shell, 'first\n', async () => void order.push('between'), 'rest\n');
    assert.deepEqual(result, { exitCode: 0, stdout: 'first\nrest', stderr: '' });
    assert.deepEqual(order, ['between']);
  });

  it('runs nothing between when the first part fails, and gives no rest when the work between fails', async () => {
    let ran = false;
    const failed = await runCommandInParts(
      ['sh', '-c', 'exit 4'],
      'first\n',
      async () => {
        ran = true;
      },
      'rest\n',
    );
    assert.equal(failed.exitCode, 4);
    assert.equal(ran, false);
    const shell = ['sh', '-c', 'while read -r line; do echo "$line"; done'];
    await assert.rejects(
      runCommandInParts(shell, 'first\n', async () => Promise.reject(new Error('sysctl failed')), 'rest\n'),
      /sysctl failed/,
    );
  });

  it('streams a long-running command, and kill ends it', async () => {
    const started = await startCommand(['sh', '-c', 'echo ready; exec sleep 60']);
    const first = await new Promise<string>((resolve) => started.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    assert.equal(first, 'ready\n');
    started.kill();
    await started.exited;
  });

  it('does not leave a long-running command behind when the agent exits', async () => {
    // The child prints its own pid, then the agent exits without killing it.
    const script = `import { startCommand } from '@guestnet/runtime';
      const c = await startCommand(['sh', '-c', 'echo $$; exec sleep 60']);
      c.stdout.once('data', (d) => { process.stdout.write(d); process.exit(0); });`;
    const pid = await new Promise<string>((resolve) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], (_e, stdout) => resolve(stdout.trim())),
    );
    assert.match(pid, /^\d+$/);
    await new Promise((r) => setTimeout(r, 100));
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    assert.ok(state === '' || / Z /.test(state), `sleep ${pid} still runs after its agent exited: ${state}`);
  });
});
