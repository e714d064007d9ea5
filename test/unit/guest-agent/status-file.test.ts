import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStatus, StatusFile } from '@guestnet/guest-agent';

describe('guest status file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-status-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is written at start, kept current, readable by all, and removed on a clean stop', async () => {
    const path = join(dir, 'status.json');
    const file = new StatusFile(path, '/run/guestnet.sock');
    file.host('connecting');
    file.update({ link: 'c'.repeat(32), lastApply: { ok: true, at: '2026-01-01T00:00:00.000Z', changes: 3 } });
    await file.remove();
    assert.equal(await readStatus(path), undefined, 'removed');

    const kept = new StatusFile(path, '/run/guestnet.sock');
    kept.host('connected');
    kept.host('connected');
    // Writes are queued; poll a bounded number of times for the last.
    for (let i = 0; i < 50 && (await readStatus(path))?.host.state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 10));
    const status = await readStatus(path);
    assert.equal(status?.pid, process.pid);
    assert.equal(status?.socket, '/run/guestnet.sock');
    assert.equal(status?.host.state, 'connected');
    assert.equal(status?.link, undefined);
    assert.equal((await stat(path)).mode & 0o777, 0o644);
    assert.ok((await readFile(path, 'utf8')).endsWith('}\n'));
    await kept.remove();
  });

  it('writes the changes of one moment once, the newest status', async () => {
    const written: string[] = [];
    const file = new StatusFile(join(dir, 'status.json'), '/s', async (_, content) => {
      written.push(content);
    });
    // As an attach ends: the apply's result, and the session it completes, one after the other.
    file.host('connecting');
    file.update({ link: 'c'.repeat(32), lastApply: { ok: true, at: '2026-01-01T00:00:00.000Z', changes: 3 } });
    file.host('connected');
    await file.remove();
    assert.equal(written.length, 1);
    const status = JSON.parse(written[0] ?? '') as { host: { state: string }; lastApply?: { changes: number } };
    assert.equal(status.host.state, 'connected');
    assert.equal(status.lastApply?.changes, 3);
  });

  it('holds its writes while the agent works on an attach, then writes the newest status once', async () => {
    const written: string[] = [];
    const file = new StatusFile(join(dir, 'status.json'), '/s', async (_, content) => {
      written.push(content);
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(written.length, 1, 'the status at start');
    let finish = () => {};
    file.host('connecting');
    const work = file.holdDuring(new Promise<void>((resolve) => (finish = resolve)));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(written.length, 1, 'nothing written while the attach is under way');
    file.update({ link: 'c'.repeat(32), lastApply: { ok: true, at: '2026-01-01T00:00:00.000Z', changes: 3 } });
    file.host('connected');
    finish();
    await work;
    await file.remove();
    assert.equal(written.length, 2);
    assert.equal((JSON.parse(written[1] ?? '') as { host: { state: string } }).host.state, 'connected');
  });

  it('reads a missing or damaged file as no agent', async () => {
    assert.equal(await readStatus(join(dir, 'absent.json')), undefined);
    await writeFile(join(dir, 'bad.json'), '{"pid":');
    assert.equal(await readStatus(join(dir, 'bad.json')), undefined);
  });

  it('never stops the agent when the file cannot be written', async () => {
    const file = new StatusFile(join(dir, 'no/such/dir/status.json'), '/s');
    file.host('connected');
    await file.remove();
  });
});
