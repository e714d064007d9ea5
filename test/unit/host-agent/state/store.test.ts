import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttachmentRecord,
  DryRunRunner,
  type RoutedVethRecord,
  RealRunner,
  type RecordChange,
  RecordStore,
  recordContent,
} from '@guestnet/host-agent';
import { ConfigError, linkIdOf } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';

// The store is loaded once and written through; other processes' writes are
// found when the lock is taken, at the cost of one stat while the dir is as
// it was left.

describe('the record store', () => {
  let stateDir: string;
  let dir: string;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    dir = join(stateDir, 'attachments');
  });
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));

  /** Another process's write: a temporary file renamed into place. */
  const writtenElsewhere = async (record: AttachmentRecord) => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `.${record.id}.tmp`), recordContent(record));
    await rename(join(dir, `.${record.id}.tmp`), join(dir, `${record.id}.json`));
  };
  /** The dir's mtime put back a second: as a change within the same clock tick of a coarse kernel leaves it. */
  const backdate = async (when: Date) => utimes(dir, when, when);

  it('writes through: the file is written, then the store has the record and tells its listeners', async () => {
    const store = new RecordStore(stateDir);
    await store.revalidate();
    const heard: RecordChange[] = [];
    store.onChange((change) => heard.push(change));
    const record = sampleRecord();
    await store.apply({ kind: 'writeRecord', record }, new RealRunner());
    assert.deepEqual(JSON.parse(await readFile(join(dir, '100.json'), 'utf8')), record);
    assert.deepEqual(heard, [{ id: '100', before: undefined, after: record }]);
    assert.equal(store.withLinkId(linkIdOf(record.token)), record);
    assert.equal(store.withHostLink('vm_wlan'), record);
    assert.ok(store.isGuestAddress('172.17.3.3'));

    const rotated = { ...record, token: `guestnet:${'b'.repeat(32)}` };
    await store.apply({ kind: 'updateRecords', before: [record], after: [rotated] }, new RealRunner());
    assert.equal(store.withLinkId(linkIdOf(record.token)), undefined, 'the old token names nothing any more');
    assert.equal(store.withLinkId(linkIdOf(rotated.token)), rotated);

    await store.apply({ kind: 'deleteRecord', id: '100' }, new RealRunner());
    assert.deepEqual(store.all(), []);
    assert.ok(!store.isGuestAddress('172.17.3.3'));
    assert.deepEqual(heard.at(-1), { id: '100', before: rotated, after: undefined });
  });

  it("knows a guest's IPv6 address as its own, for the DNS forwarder's source check, until its record goes", async () => {
    const store = new RecordStore(stateDir);
    await store.revalidate();
    const ipv6 = {
      mode: 'nat' as const,
      hostAddress: 'fd00:1::1',
      guestAddress: 'fd00:1::67:6eff:fe11:303',
      prefixLength: 64,
      uplink: 'wlan0',
    };
    await store.apply({ kind: 'writeRecord', record: sampleRecord({ guestConfig: 'dhcp', ipv6 }) }, new RealRunner());
    assert.ok(store.isGuestAddress('fd00:1::67:6eff:fe11:303'));
    assert.ok(store.isGuestAddress('172.17.3.3'));
    assert.ok(!store.isGuestAddress('fd00:1::1'), 'the gateway is no guest');
    await store.apply({ kind: 'deleteRecord', id: '100' }, new RealRunner());
    assert.ok(!store.isGuestAddress('fd00:1::67:6eff:fe11:303'));
  });

  it('a dry run prints the write and changes nothing', async () => {
    const store = new RecordStore(stateDir);
    const printed: string[] = [];
    await store.apply({ kind: 'writeRecord', record: sampleRecord() }, new DryRunRunner((line) => printed.push(line)));
    assert.match(printed[0] ?? '', /^cat > \S+\/attachments\/100\.json <<'EOF'/);
    assert.equal(store.size, 0);
    await store.revalidate();
    assert.equal(store.size, 0);
  });

  it("finds another process's writes and removals when revalidated, and tells its listeners", async () => {
    const store = new RecordStore(stateDir);
    await store.revalidate();
    const heard: RecordChange[] = [];
    store.onChange((change) => heard.push(change));
    const other = sampleRecord({ pid: 200 });
    await writtenElsewhere(other);
    await store.revalidate();
    assert.deepEqual(store.all(), [other]);
    await rm(join(dir, '200.json'));
    await store.revalidate();
    assert.deepEqual(store.all(), []);
    assert.deepEqual(
      heard.map((c) => [c.id, c.before?.id, c.after?.id]),
      [
        ['200', undefined, '200'],
        ['200', '200', undefined],
      ],
    );
  });

  it('costs one stat while the dir is as it was left: a file changed in place, which no writer does, goes unseen', async () => {
    await writtenElsewhere(sampleRecord());
    const aSecondAgo = new Date(Date.now() - 1000);
    await backdate(aSecondAgo);
    const store = new RecordStore(stateDir);
    await store.revalidate();
    await writeFile(join(dir, '100.json'), recordContent(sampleRecord({ mtu: 1400 })));
    await backdate(aSecondAgo);
    const before = (await stat(dir)).mtimeMs;
    await store.revalidate();
    assert.equal((store.get('100') as RoutedVethRecord | undefined)?.mtu, 1500, 'the store read the file again');
    assert.equal((await stat(dir)).mtimeMs, before);
  });

  it("after its own write, the next look lists the dir: a write right after it may leave the dir's mtime as it was", async () => {
    const store = new RecordStore(stateDir);
    await store.apply({ kind: 'writeRecord', record: sampleRecord() }, new RealRunner());
    const mtime = (await stat(dir)).mtime;
    await writtenElsewhere(sampleRecord({ pid: 201 }));
    await backdate(mtime);
    await store.revalidate();
    assert.deepEqual(
      store.all().map((r) => r.id),
      ['100', '201'],
    );
  });

  it('a damaged record fails the look in one clear line, and the store keeps what it had', async () => {
    const store = new RecordStore(stateDir);
    await store.apply({ kind: 'writeRecord', record: sampleRecord() }, new RealRunner());
    await store.revalidate();
    await writeFile(join(dir, '300.json'), '{"id": "3');
    await assert.rejects(
      store.revalidate(),
      (error: unknown) => error instanceof ConfigError && /300\.json is not valid JSON/.test(String(error)),
    );
    assert.deepEqual(
      store.all().map((r) => r.id),
      ['100'],
    );
  });
});
