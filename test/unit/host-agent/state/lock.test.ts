import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ownerOf, tryOwn, withStateLock } from '@guestnet/host-agent';

const ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

/** A pid that is certainly not running: one of a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await once(child, 'exit');
  return child.pid as number;
}

describe('state lock and owned files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-lock-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('owns a file with its pid unless a live process owns it, and takes over one a dead owner left', async () => {
    const path = join(dir, 'serve.pid');
    assert.equal(await ownerOf(path), undefined);
    assert.equal(await tryOwn(path), true);
    assert.equal(await ownerOf(path), process.pid);
    assert.equal(await tryOwn(path), false, 'a live owner (this process) keeps it');
    await writeFile(path, `${await deadPid()}\n`);
    assert.equal(await tryOwn(path), true);
    assert.equal(await readFile(path, 'utf8'), `${process.pid}\n`);
    await writeFile(path, 'garbage\n');
    assert.equal(await ownerOf(path), undefined);
    assert.equal(await tryOwn(path), true, 'no pid in it: abandoned');
  });

  it('leaves an empty file that is being written, and takes one left empty long ago', async () => {
    const path = join(dir, 'serve.pid');
    await writeFile(path, '');
    assert.equal(await tryOwn(path), false);
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    assert.equal(await tryOwn(path), true);
  });

  it('runs the work of one process one at a time, in order, a failure releasing the lock', async () => {
    const events: string[] = [];
    const work =
      (name: string, fail = false) =>
      async () => {
        events.push(`${name} start`);
        await new Promise((resolve) => setImmediate(resolve));
        events.push(`${name} end`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      withStateLock(dir, work('a')),
      withStateLock(dir, work('b', true)),
      withStateLock(dir, work('c')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(events, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('waits for another process that holds the lock, until it lets go', async () => {
    const marker = join(dir, 'marker');
    const script = `import { withStateLock } from '@guestnet/host-agent';
import { writeFile } from 'node:fs/promises';
await withStateLock(${JSON.stringify(dir)}, async () => {
  process.stdout.write('held\\n');
  await new Promise((resolve) => process.stdin.on('end', resolve).resume());
  await writeFile(${JSON.stringify(marker)}, 'released by the other process');
});`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await once(child.stdout, 'data');
      const ours = withStateLock(dir, () => readFile(marker, 'utf8').catch(() => 'not yet'));
      child.stdin.end();
      assert.equal(await ours, 'released by the other process');
    } finally {
      child.kill();
    }
  });
});
