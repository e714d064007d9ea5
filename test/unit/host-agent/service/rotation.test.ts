import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStep, nftables, pinNetns, RecordingRunner, RecordStore, rotateToken, type Step, undoOf } from '@guestnet/host-agent';
import { newOneTimeToken } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';

const netnsOf = async (path: string) => `net:[${(await stat(path)).ino}]`;

describe('rotateToken: a new token for a guest link', () => {
  let stateDir: string;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));

  const token = newOneTimeToken();
  const name = token.slice('guestnet:'.length);
  const record = sampleRecord({ token, guestIf: name });
  const look = `nsenter --net=${record.netnsPath} ip -j link show`;
  // The record's netns, as the daemon holds it open: here, its path as it is.
  const pinned = async (r: { netnsPath: string }) => ({ path: r.netnsPath, release: async () => {} });

  it('writes the record, then the alias of the link that carries the old token, in the guest netns; never in argv', async () => {
    const runner = new RecordingRunner({ [look]: JSON.stringify([{ ifname: 'lo' }, { ifname: 'wlan0', ifalias: token }]) });
    const records = new RecordStore(stateDir);
    const heard: Array<{ token: string | undefined; stepsBefore: number }> = [];
    records.onChange(({ after }) => heard.push({ token: after?.token, stepsBefore: runner.steps.length }));
    const rotation = await rotateToken(record, runner, { firewall: nftables, stateDir, records }, undefined, pinned);
    assert.ok(rotation);
    assert.match(rotation.token, /^guestnet:[0-9a-f]{32}$/);
    assert.deepEqual(heard, [{ token: rotation.token, stepsBefore: 1 }], 'the store has it before the guest can see it');
    assert.equal(records.get(record.id)?.token, rotation.token);
    const [write, alias] = runner.steps as [Extract<Step, { kind: 'write' }>, Extract<Step, { kind: 'run' }>];
    assert.equal(write.kind, 'write');
    assert.equal(JSON.parse(write.content).token, rotation.token);
    assert.deepEqual(alias.argv, ['nsenter', `--net=${record.netnsPath}`, 'ip', '-batch', '-']);
    assert.equal(alias.input, `link set dev wlan0 alias ${rotation.token}\n`);
    assert.ok(!formatStep(alias, [rotation.token, token, name]).includes(rotation.token.slice(9, 17)));
  });

  it('finds a link still under its one-time name, and rotates nothing where no link carries the token', async () => {
    const underName = new RecordingRunner({ [look]: JSON.stringify([{ ifname: name }]) });
    const rotation = await rotateToken(
      record,
      underName,
      { firewall: nftables, stateDir, records: new RecordStore(stateDir) },
      undefined,
      pinned,
    );
    assert.equal((underName.steps[1] as { input?: string }).input, `link set dev ${name} alias ${rotation?.token}\n`);
    const none = new RecordingRunner({
      [look]: JSON.stringify([{ ifname: 'wlan0', ifalias: 'guestnet:ffffffffffffffffffffffffffffffff' }]),
    });
    assert.equal(
      await rotateToken(record, none, { firewall: nftables, stateDir, records: new RecordStore(stateDir) }, undefined, pinned),
      undefined,
    );
    assert.deepEqual(none.steps, []);
  });

  it('sets the alias on the name the guest confirmed without a look, and looks if that link is gone', async () => {
    const confirmed = new RecordingRunner();
    const ctx = { firewall: nftables, stateDir, records: new RecordStore(stateDir) };
    const rotation = await rotateToken(record, confirmed, ctx, 'wlan0', pinned);
    assert.deepEqual(confirmed.reads, [], 'no look');
    assert.equal((confirmed.steps[1] as { input?: string }).input, `link set dev wlan0 alias ${rotation?.token}\n`);

    // The guest renamed its link since: the alias on the confirmed name fails, the record goes back, and a look finds the link.
    class RenamedSince extends RecordingRunner {
      override async perform(step: Step): Promise<void> {
        await super.perform(step);
        if (step.kind === 'run' && step.input?.startsWith('link set dev wlan0 ')) throw new Error('Cannot find device "wlan0"');
      }
    }
    const renamed = new RenamedSince({ [look]: JSON.stringify([{ ifname: 'eth7', ifalias: token }]) });
    const records = new RecordStore(stateDir);
    const again = await rotateToken(record, renamed, { ...ctx, records }, 'wlan0', pinned);
    assert.equal(renamed.reads.length, 1);
    assert.equal((renamed.steps.at(-1) as { input?: string }).input, `link set dev eth7 alias ${again?.token}\n`);
    assert.equal(records.get(record.id)?.token, again?.token);
  });

  it("writes nothing where the record's path no longer leads to its netns (its pid reused elsewhere), and names no link a batch line cannot", async () => {
    const runner = new RecordingRunner({ [look]: JSON.stringify([{ ifname: 'wlan0', ifalias: token }]) });
    const ctx = { firewall: nftables, stateDir, records: new RecordStore(stateDir) };
    assert.equal(await rotateToken(record, runner, ctx, 'wlan0', async () => undefined), undefined);
    assert.deepEqual([runner.reads, runner.steps], [[], []]);
    const quoted = new RecordingRunner({ [look]: JSON.stringify([{ ifname: '"x', ifalias: token }]) });
    assert.equal(await rotateToken(record, quoted, ctx, undefined, pinned), undefined);
    assert.deepEqual(quoted.steps, []);
  });

  it("holds the guest's netns by an fd of its own, and only while it is the record's", async () => {
    const own = await pinNetns({ ...record, netnsPath: '/proc/self/ns/net', netns: await netnsOf('/proc/self/ns/net') });
    assert.ok(own);
    assert.match(own.path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.equal(await netnsOf(own.path), await netnsOf('/proc/self/ns/net'));
    await own.release();
    assert.equal(await pinNetns({ ...record, netnsPath: '/proc/self/ns/net', netns: 'net:[1]' }), undefined);
    assert.equal(await pinNetns({ ...record, netnsPath: '/proc/0/ns/net' }), undefined);
  });

  it('undoing the alias puts the old token back: the link carries the same token as before, as its alias', () => {
    const op = { kind: 'setGuestAlias' as const, record, netnsPath: record.netnsPath, name: 'wlan0', alias: 'guestnet:new', before: token };
    assert.deepEqual(undoOf(op), { ...op, alias: token, before: 'guestnet:new' });
  });
});
