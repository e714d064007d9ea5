import assert from 'node:assert/strict';
import { changeIp, observeGuest, readIp } from '@guestnet/guest-agent';
import { CommandFailedError } from '@guestnet/protocol';
import { SpareProcess } from '@guestnet/runtime';

// Read-only `ip` in this process's netns, and changes that fail before they change anything.
describe('guest ip batches', () => {
  it('runs reads in one ip -j process, one JSON document per command', async () => {
    const lines = (await readIp(['link show dev lo', 'address show dev lo'])).split('\n').filter(Boolean);
    assert.equal(lines.length, 2);
    const [links] = lines.map((line) => JSON.parse(line) as Array<{ ifname: string }>);
    assert.equal(links?.[0]?.ifname, 'lo');
  });

  it('fails a read with the command it ran and the tool message', async () => {
    await assert.rejects(readIp(['link show dev gnmirrorabsent']), (error: unknown) => {
      assert.ok(error instanceof CommandFailedError);
      assert.deepEqual(error.argv, ['ip', '-4', '-j', '-batch', '-']);
      assert.match(error.message, /gnmirrorabsent/);
      return true;
    });
  });

  it('names the 0-based line a batch stopped at, and returns the reads after the changes', async () => {
    const failed = await changeIp(['link show dev lo', 'link set dev gnmirrorabsent up']);
    assert.equal(failed.ok, false);
    assert.equal(failed.ok ? -1 : failed.failedLine, 1);
    const read = await changeIp([], { thenRead: ['link show dev lo'] });
    assert.equal(read.ok, true);
    assert.equal(read.ok && (JSON.parse(read.output) as Array<{ ifname: string }>)[0]?.ifname, 'lo');
  });

  it('enters another netns by path through nsenter, and fails clearly where there is none', async () => {
    await assert.rejects(readIp(['link show'], { netnsPath: '/nonexistent/netns' }), (error: unknown) => {
      assert.ok(error instanceof CommandFailedError);
      assert.deepEqual(error.argv.slice(0, 3), ['nsenter', '--net=/nonexistent/netns', 'ip']);
      return true;
    });
  });
});

// The guest agent's looks run in the process it spawned ahead, when it hands
// one over, and spawn otherwise. Only reads of this netns: nothing changes.

describe('guest agent ip: the look spawned ahead', () => {
  let spare: SpareProcess;
  beforeEach(() => {
    spare = new SpareProcess(['ip', '-4', '-j', '-batch', '-']);
    spare.keep();
  });
  afterEach(() => spare.close());

  it('looks in the spare it was handed', async () => {
    const waiting = spare.waitingPid;
    assert.ok(waiting !== undefined);
    const seen = await observeGuest(undefined, { looks4: spare });
    assert.ok(seen.links.some((link) => link.name === 'lo'));
    assert.notEqual(spare.waitingPid, waiting, 'the process that waited ran the look');
  });

  it('spawns its look when handed none, and the spare keeps waiting', async () => {
    const waiting = spare.waitingPid;
    await observeGuest(undefined, {});
    assert.equal(spare.waitingPid, waiting);
  });
});
