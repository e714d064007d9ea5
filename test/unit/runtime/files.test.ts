import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSmallFile, writeAtomically } from '@guestnet/runtime';

describe('atomic files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-files-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('replaces a file whole, with its mode, making its directory private, and leaves no temp file', async () => {
    const path = join(dir, 'state/attachments/1.json');
    await writeAtomically(path, 'first');
    await writeAtomically(path, Buffer.from('second'), { mode: 0o644, durable: false });
    assert.equal(await readFile(path, 'utf8'), 'second');
    assert.equal((await stat(path)).mode & 0o777, 0o644);
    assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(join(dir, 'state/attachments')), ['1.json']);
  });

  it('is private by default', async () => {
    const path = join(dir, 'secret');
    await writeAtomically(path, 'x');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('replaces a planted symlink instead of writing through it', async () => {
    const target = join(dir, 'target');
    const path = join(dir, 'status.json');
    await symlink(target, path);
    await writeAtomically(path, 'mine');
    assert.equal((await stat(path, {})).isFile(), true);
    await assert.rejects(readFile(target), { code: 'ENOENT' });
  });

  it('fails where the file cannot go and leaves the directory as it was', async () => {
    const path = join(dir, 'adir');
    await writeAtomically(join(path, 'inner'), 'x');
    await assert.rejects(writeAtomically(path, 'over a directory'), { code: 'EISDIR' });
    assert.deepEqual((await readdir(dir)).sort(), ['adir']);
  });

  it('without a sync, fails where the file cannot go and leaves the directory as it was, too', async () => {
    const path = join(dir, 'adir');
    await writeAtomically(join(path, 'inner'), 'x', { durable: false });
    await assert.rejects(writeAtomically(path, 'over a directory', { durable: false }), { code: 'EISDIR' });
    assert.deepEqual((await readdir(dir)).sort(), ['adir']);
  });

  it('reads a small file on the spot, and fails as fs.promises.readFile does, as a promise', async () => {
    const path = join(dir, 'forward');
    await writeAtomically(path, '1\n', { durable: false });
    assert.equal(await readSmallFile(path), '1\n');
    await assert.rejects(readSmallFile(join(dir, 'missing')), { code: 'ENOENT' });
  });
});
