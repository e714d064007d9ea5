import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyGuest } from '@guestnet/guest-agent';
import { CommandFailedError } from '@guestnet/protocol';
import { SpareProcess } from '@guestnet/runtime';

// In this process's netns only what changes nothing runs: reads, files in a temp dir, and a link change
// that fails because its link does not exist.
describe('applying guest ops', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-apply-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes the DNS file while the ip batch runs, and resolves to the state that batch read back', async () => {
    const path = join(dir, 'resolv.conf');
    const state = await applyGuest([
      { kind: 'writeDnsFile', path, content: Buffer.from('nameserver 172.17.3.2\n'), before: undefined, synced: false },
    ]);
    assert.equal(await readFile(path, 'utf8'), 'nameserver 172.17.3.2\n');
    assert.ok(state.links.some((link) => link.name === 'lo'));
  });

  it('writes the DNS file while ip runs, not after it: the agent would only wait for ip meanwhile', async () => {
    const path = join(dir, 'resolv.conf');
    const seen = join(dir, 'seen');
    // An ip that looks whether the file is there a moment after it has its input.
    const script = `read -r first; sleep 0.2; if [ -e '${path}' ]; then echo yes > '${seen}'; fi; { printf '%s\\n' "$first"; cat; } | ip -4 -j -batch -`;
    const looks4 = new SpareProcess(['sh', '-c', script]);
    try {
      const state = await applyGuest(
        [{ kind: 'writeDnsFile', path, content: Buffer.from('nameserver 172.17.3.2\n'), before: undefined, synced: false }],
        { looks4 },
      );
      assert.ok(state.links.some((link) => link.name === 'lo'));
    } finally {
      looks4.close();
    }
    assert.equal(existsSync(seen), true, 'the file was there while ip ran');
  });

  it('undoes the DNS file it wrote beside an ip line that fails', async () => {
    const path = join(dir, 'resolv.conf');
    await assert.rejects(
      applyGuest([
        { kind: 'linkUp', name: 'gnmirrorabsent' },
        { kind: 'writeDnsFile', path, content: Buffer.from('x'), before: undefined, synced: false },
      ]),
      (error: unknown) => error instanceof CommandFailedError && /gnmirrorabsent|Cannot find device/.test(error.message),
    );
    assert.equal(existsSync(path), false);
  });

  it('undoes the files written before a file that fails: a new one removed, an old one put back', async () => {
    const fresh = join(dir, 'fresh.conf');
    const old = join(dir, 'old.conf');
    await writeFile(old, 'before\n');
    const blocked = join(dir, 'not-a-dir');
    await writeFile(blocked, '');
    await assert.rejects(
      applyGuest([
        { kind: 'writeDnsFile', path: fresh, content: Buffer.from('new\n'), before: undefined, synced: false },
        { kind: 'writeDnsFile', path: old, content: Buffer.from('after\n'), before: Buffer.from('before\n'), synced: false },
        { kind: 'writeDnsFile', path: join(blocked, 'resolv.conf'), content: Buffer.from('x'), before: undefined, synced: false },
      ]),
    );
    assert.equal(existsSync(fresh), false);
    assert.equal(await readFile(old, 'utf8'), 'before\n');
  });
});
