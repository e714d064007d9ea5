import assert from 'node:assert/strict';
import { HostMemory, hostQueries, RecordingRunner } from '@guestnet/host-agent';
import { CommandFailedError } from '@guestnet/protocol';

const { defaultRoutes4: DEFAULTS, nftTableShape: TABLES, localNetworkRoutes4: TABLE_97 } = hostQueries;
const STATS = ['ip', '-s', '-j', 'link', 'show'];
const settle = () => new Promise((r) => setTimeout(r, 120));

function memoryOver(
  canned: Record<string, string> | undefined = { [DEFAULTS.argv.join(' ')]: '[]', [TABLES.argv.join(' ')]: '', [STATS.join(' ')]: '[]' },
  listening = true,
) {
  const inner = new RecordingRunner(canned);
  return { memory: new HostMemory(inner, () => listening), inner };
}

const readsOf = (inner: RecordingRunner, argv: readonly string[]) => inner.reads.filter((r) => r.join(' ') === argv.join(' ')).length;

describe('daemon host memory', () => {
  it('answers a query once, however often it is asked', async () => {
    const { memory, inner } = memoryOver();
    for (let i = 0; i < 3; i++) await memory.query(DEFAULTS);
    assert.equal(readsOf(inner, DEFAULTS.argv), 1);
    memory.close();
  });

  it('passes every read by argv through, even one whose argv is a query’s', async () => {
    const { memory, inner } = memoryOver();
    await memory.read(STATS);
    await memory.read(STATS);
    assert.equal(readsOf(inner, STATS), 2);
    await memory.query(DEFAULTS);
    await memory.read([...DEFAULTS.argv]);
    await memory.read([...DEFAULTS.argv]);
    assert.equal(readsOf(inner, DEFAULTS.argv), 3, 'only the query is remembered, not a command that looks like it');
    memory.close();
  });

  it('remembers nothing while the host events are not heard: one could be missed', async () => {
    const { memory, inner } = memoryOver(undefined, false);
    await memory.query(DEFAULTS);
    await memory.query(DEFAULTS);
    assert.equal(readsOf(inner, DEFAULTS.argv), 2);
    memory.close();
  });

  it('a command of ours makes every answer stale, and they are read again once the host settles', async () => {
    const { memory, inner } = memoryOver();
    await memory.query(DEFAULTS);
    await memory.perform({ kind: 'run', argv: ['nft', '-f', '-'], input: '' });
    await settle();
    assert.equal(readsOf(inner, DEFAULTS.argv), 2, 're-read off the attach path');
    await memory.query(DEFAULTS);
    assert.equal(readsOf(inner, DEFAULTS.argv), 2, 'and then served from memory');
    memory.close();
  });

  it('a state file write changes no answer', async () => {
    const { memory, inner } = memoryOver();
    await memory.query(DEFAULTS);
    await memory.perform({ kind: 'write', path: '/nonexistent/record.json', content: '{}' });
    await memory.query(DEFAULTS);
    assert.equal(readsOf(inner, DEFAULTS.argv), 1);
    memory.close();
  });

  it("a command that acts only in a guest's netns leaves the host's answers fresh", async () => {
    const { memory, inner } = memoryOver();
    await memory.query(DEFAULTS);
    await memory.perform({ kind: 'run', argv: ['nsenter', '--net=/proc/1/ns/net', 'ip', '-batch', '-'], input: '', guestOnly: true });
    await memory.query(DEFAULTS);
    await settle();
    assert.equal(readsOf(inner, DEFAULTS.argv), 1);
    memory.close();
  });

  it('a host event makes the answers stale', async () => {
    const { memory, inner } = memoryOver();
    await memory.query(DEFAULTS);
    memory.changed();
    await memory.query(DEFAULTS);
    assert.equal(readsOf(inner, DEFAULTS.argv), 2);
    memory.close();
  });

  it('does not re-read while an attach or detach is under way, but right after', async () => {
    const { memory, inner } = memoryOver();
    await memory.query(TABLES);
    await memory.during(async () => {
      memory.changed();
      await settle();
      assert.equal(readsOf(inner, TABLES.argv), 1);
    });
    await settle();
    assert.equal(readsOf(inner, TABLES.argv), 2);
    memory.close();
  });

  it('re-reads a few times at once for a flood of events, then at most twice a second', async () => {
    const { memory, inner } = memoryOver();
    await memory.query(DEFAULTS);
    // A guest that flaps its link makes an event every 80 ms, for a second.
    for (let i = 0; i < 12; i++) {
      memory.changed();
      await new Promise((r) => setTimeout(r, 80));
    }
    await settle();
    const reads = readsOf(inner, DEFAULTS.argv);
    assert.ok(reads >= 2, `re-read ${reads - 1} times`);
    assert.ok(reads <= 1 + 4 + 3, `${reads - 1} re-reads for 12 events in a second: not held to the pace`);
    memory.close();
  });

  it("the re-read after each change of ours is that change's, and spends none of the events' budget", async () => {
    const { memory, inner } = memoryOver();
    await memory.query(DEFAULTS);
    // More attaches and detaches than the events' burst, each followed by a change of someone else's (another
    // runtime's container, say) once the first has been re-read: none of those waits for the budget to refill.
    for (let i = 0; i < 6; i++) {
      await memory.during(() => memory.perform({ kind: 'run', argv: ['nft', '-f', '-'], input: '' }));
      await settle();
      memory.changed();
      await settle();
    }
    assert.equal(readsOf(inner, DEFAULTS.argv), 1 + 6 + 6);
    memory.close();
  });

  it('a change that ran nothing on the host (a rotation) owes no re-read: what is stale after it, events made so, and they pay', async () => {
    const { memory, inner } = memoryOver();
    await memory.query(DEFAULTS);
    // A guest that flaps its link between rotations: the events' budget holds, whatever the rotations.
    for (let i = 0; i < 12; i++) {
      memory.changed();
      await memory.during(() =>
        memory.perform({ kind: 'run', argv: ['nsenter', '--net=/proc/1/ns/net', 'ip', '-batch', '-'], input: '', guestOnly: true }),
      );
      await new Promise((r) => setTimeout(r, 80));
    }
    await settle();
    const reads = readsOf(inner, DEFAULTS.argv);
    assert.ok(reads <= 1 + 4 + 3, `${reads - 1} re-reads for 12 events in a second`);
    memory.close();
  });

  it('forgets everything when told to (events lost, an attach failed)', async () => {
    const { memory, inner } = memoryOver();
    await memory.query(TABLES);
    memory.forget();
    await memory.query(TABLES);
    assert.equal(readsOf(inner, TABLES.argv), 2);
    memory.close();
  });

  it("the checking loop reads afresh that guestnet's firewall table is not there", async () => {
    const inner = new RecordingRunner();
    inner.read = (argv) => {
      inner.reads.push(argv);
      return Promise.reject(new CommandFailedError(argv, 'Error: No such file or directory', 1));
    };
    const memory = new HostMemory(inner, () => true);
    await assert.rejects(memory.query(TABLES));
    await assert.rejects(memory.query(TABLES));
    assert.equal(readsOf(inner, TABLES.argv), 1);
    await assert.rejects(memory.checking.query(TABLES));
    assert.equal(readsOf(inner, TABLES.argv), 2, 'the checking loop reads it afresh');
    await memory.perform({ kind: 'run', argv: ['nft', '-f', '-'], input: '' });
    await assert.rejects(memory.query(TABLES));
    assert.equal(readsOf(inner, TABLES.argv), 3);
    memory.close();
  });

  it('does not remember a read that did not run to its end', async () => {
    const { memory, inner } = memoryOver({});
    inner.read = (argv) => {
      inner.reads.push(argv);
      return Promise.reject(new CommandFailedError(argv, 'timed out', undefined));
    };
    await assert.rejects(memory.query(TABLES));
    await assert.rejects(memory.query(TABLES));
    assert.equal(readsOf(inner, TABLES.argv), 2);
    memory.close();
  });

  it('remembers that a table does not exist, until an event', async () => {
    const { memory, inner } = memoryOver({});
    await assert.rejects(memory.query(TABLE_97));
    await assert.rejects(memory.query(TABLE_97));
    assert.equal(readsOf(inner, TABLE_97.argv), 1);
    memory.changed();
    await assert.rejects(memory.query(TABLE_97));
    assert.equal(readsOf(inner, TABLE_97.argv), 2);
    memory.close();
  });

  it('remembers that the firewall table does not exist, until a command of ours or an event', async () => {
    // What nft says of a table that is not there: each member of a group attach asks, and one read must serve them all.
    class NoTable extends RecordingRunner {
      override async read(argv: string[]): Promise<string> {
        this.reads.push(argv);
        throw new CommandFailedError(argv, 'Error: No such file or directory; did you mean table ‘guestnet’ in family inet?', 1);
      }
    }
    const inner = new NoTable();
    const memory = new HostMemory(inner, () => true);
    for (let i = 0; i < 3; i++) await assert.rejects(memory.query(TABLES));
    assert.equal(readsOf(inner, TABLES.argv), 1);
    await memory.perform({ kind: 'run', argv: ['nft', '-f', '-'], input: '' });
    await assert.rejects(memory.query(TABLES));
    assert.equal(readsOf(inner, TABLES.argv), 2, 'a command of ours may have made it');
    memory.changed();
    await assert.rejects(memory.query(TABLES));
    assert.equal(readsOf(inner, TABLES.argv), 3);
    memory.close();
  });

  it('its checking view reads the firewall afresh, and keeps what it read; routes and links come from memory', async () => {
    const { memory, inner } = memoryOver();
    await memory.checking.query(TABLES);
    await memory.checking.query(TABLES);
    await memory.query(TABLES);
    assert.equal(readsOf(inner, TABLES.argv), 2);
    await memory.checking.query(DEFAULTS);
    await memory.checking.query(DEFAULTS);
    assert.equal(readsOf(inner, DEFAULTS.argv), 1);
    memory.close();
  });

  describe('its glancing view, for status', () => {
    const FULL = ['nft', '-j', 'list', 'table', 'ip', 'guestnet'];

    /** Answers FULL with `answer`, or not at all while `hung`. */
    class Wedgeable extends RecordingRunner {
      hung = false;
      failing = false;
      answer = 'before';
      override read(argv: string[]): Promise<string> {
        if (argv.join(' ') !== FULL.join(' ')) return super.read(argv);
        this.reads.push(argv);
        if (this.failing) return Promise.reject(new CommandFailedError(argv, 'Error: No such file or directory', 1));
        return this.hung ? new Promise(() => {}) : Promise.resolve(this.answer);
      }
    }
    const glancingOver = () => {
      const inner = new Wedgeable();
      return { memory: new HostMemory(inner, () => true), inner };
    };

    it('reads afresh while nothing is under way, the first time included', async () => {
      const { memory, inner } = glancingOver();
      assert.equal(await memory.glancing.read(FULL), 'before');
      inner.answer = 'after';
      assert.equal(await memory.glancing.read(FULL), 'after');
      assert.equal(readsOf(inner, FULL), 2);
      memory.close();
    });

    it('answers what it last read, without a read, while a change is under way', async () => {
      const { memory, inner } = glancingOver();
      await memory.glancing.read(FULL);
      inner.hung = true;
      let release = () => {};
      const change = memory.during(() => new Promise<void>((r) => (release = r)));
      assert.equal(await memory.glancing.read(FULL), 'before');
      assert.equal(readsOf(inner, FULL), 1);
      release();
      await change;
      memory.close();
    });

    it('reads afresh after a read that exited with an error: what it said before no longer holds', async () => {
      const { memory, inner } = glancingOver();
      await memory.glancing.read(FULL);
      inner.failing = true;
      await assert.rejects(memory.checking.read(FULL));
      inner.failing = false;
      inner.answer = 'after';
      let release = () => {};
      const change = memory.during(() => new Promise<void>((r) => (release = r)));
      assert.equal(await memory.glancing.read(FULL), 'after');
      release();
      await change;
      memory.close();
    });

    it('answers what it last read while a read of the same is out and hangs (the checking loop met a wedged tool)', async () => {
      const { memory, inner } = glancingOver();
      await memory.glancing.read(FULL);
      inner.hung = true;
      void memory.checking.read(FULL);
      assert.equal(await memory.glancing.read(FULL), 'before');
      assert.equal(readsOf(inner, FULL), 2);
      memory.close();
    });
  });
});
