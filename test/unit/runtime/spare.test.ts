import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { runCommand, SpareProcess } from '@guestnet/runtime';

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
/** Waits, within a guard, until the spare has a process waiting other than `not`. */
const nextWaiting = async (spare: SpareProcess, not?: number) => {
  for (let i = 0; i < 100 && (spare.waitingPid === undefined || spare.waitingPid === not); i++) await new Promise((r) => setTimeout(r, 20));
  return spare.waitingPid;
};

describe('runtime spare process', () => {
  const spares: SpareProcess[] = [];
  const spareOf = (argv: string[]) => {
    const spare = new SpareProcess(argv);
    spares.push(spare);
    return spare;
  };
  afterEach(() => {
    for (const spare of spares.splice(0)) spare.close();
  });

  it('hands its input to the process spawned ahead, then spawns another', async () => {
    // Prints its own pid once it has its input: the process that ran is the one spawned ahead.
    const spare = spareOf(['sh', '-c', 'read line; echo $$ $line']);
    spare.keep();
    const ready = spare.waitingPid;
    assert.ok(ready !== undefined);
    assert.equal((await spare.run('hello\n')).stdout, `${ready} hello`);
    assert.equal(spare.waitingPid, undefined);
    const next = await nextWaiting(spare);
    assert.ok(next !== undefined && next !== ready);
  });

  it('is taken only by its owner: runCommand of the very same argv spawns, and the spare keeps waiting', async () => {
    const argv = ['sh', '-c', 'read line; echo $$ $line'];
    const spare = spareOf(argv);
    spare.keep();
    const ready = spare.waitingPid;
    assert.notEqual((await runCommand(argv, 'hello\n')).stdout, `${ready} hello`);
    assert.equal(spare.waitingPid, ready);
  });

  it('paused, hands its input to the process waiting and spawns none after it, until kept again', async () => {
    const spare = spareOf(['sh', '-c', 'read line; echo $$ $line']);
    spare.keep();
    const ready = spare.waitingPid;
    spare.pause();
    assert.equal((await spare.run('hello\n')).stdout, `${ready} hello`);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(spare.waitingPid, undefined, 'none spawned after the run');
    assert.match((await spare.run('again\n')).stdout, /^\d+ again$/);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(spare.waitingPid, undefined, 'nor after a run that spawned its own');
    spare.keep();
    assert.ok((await nextWaiting(spare)) !== undefined);
  });

  it('paused while the next is due, still spawns that one for the next run, and none after', async () => {
    const spare = spareOf(['sh', '-c', 'read line; echo $$ $line']);
    spare.keep();
    await spare.run('first\n');
    spare.pause();
    const due = await nextWaiting(spare);
    assert.ok(due !== undefined);
    assert.equal((await spare.run('hello\n')).stdout, `${due} hello`);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(spare.waitingPid, undefined);
  });

  it('spawns nothing ahead until it is kept, and runs all the same', async () => {
    const spare = spareOf(['sh', '-c', 'read line; echo $line']);
    assert.equal(spare.waitingPid, undefined);
    assert.equal((await spare.run('now\n')).stdout, 'now');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(spare.waitingPid, undefined);
  });

  it('gives its process the deadline, and spawns another after it was killed', async () => {
    const spare = spareOf(['sh', '-c', 'read line; exec sleep 60']);
    spare.keep();
    const ready = spare.waitingPid as number;
    await assert.rejects(spare.run('hang\n', 300), /timed out after 300 ms/);
    assert.ok(await gone([ready]), `the spare ${ready} still runs`);
    assert.ok((await nextWaiting(spare, ready)) !== undefined);
  });

  it('spawns afresh when the process died while it waited', async () => {
    const spare = spareOf(['sh', '-c', 'read line; echo $line']);
    spare.keep();
    const ready = spare.waitingPid as number;
    process.kill(ready, 'SIGKILL');
    assert.ok(await gone([ready]));
    assert.equal((await spare.run('again\n')).stdout, 'again');
  });

  it('runs its input in two parts in the process spawned ahead', async () => {
    const spare = spareOf(['sh', '-c', 'while read -r line; do echo "$$ $line"; done']);
    spare.keep();
    const ready = spare.waitingPid;
    const order: string[] = [];
    const result = await spare.runInParts('first\n', async () => void order.push('between'), 'rest\n');
    assert.equal(result.stdout, `${ready} first\n${ready} rest`);
    assert.deepEqual(order, ['between']);
  });

  it('kills the process waiting when closed, and spawns no other', async () => {
    const spare = spareOf(['sh', '-c', 'read line; echo $line']);
    spare.keep();
    const ready = spare.waitingPid as number;
    spare.close();
    assert.ok(await gone([ready]));
    assert.equal((await spare.run('closed\n')).stdout, 'closed');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(spare.waitingPid, undefined);
  });

  it('does not hold the agent open, nor outlive it, while its process waits', async () => {
    const script = `import { SpareProcess } from '@guestnet/runtime';
      const spare = new SpareProcess(['sleep', '60']);
      spare.keep();
      process.stdout.write(String(spare.waitingPid));`;
    const pid = await new Promise<string>((resolve) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (_e, stdout) => resolve(stdout.trim())),
    );
    assert.match(pid, /^\d+$/);
    assert.ok(await gone([Number(pid)]), `sleep ${pid} still runs after its agent exited`);
  });
});
