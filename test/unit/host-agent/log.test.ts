import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { humanLine, isJournalStream, logFormatOf } from '@guestnet/host-agent';

const NOW = () => new Date('2025-05-01T09:30:00.000Z');

describe('the daemon log lines', () => {
  it('a human line: time, level, what happened to which guest and how long it took, then the details', () => {
    const info = {
      level: 'info',
      message: 'attached',
      agent: 'host',
      guest: 'pid 4242',
      ms: 412,
      hostIf: 'vm_wlan1',
      address: '172.17.3.4/16',
    };
    assert.equal(
      humanLine(info, { timestamps: true, journal: false }, NOW),
      '2025-05-01T09:30:00.000Z info  attached pid 4242 in 412 ms: hostIf=vm_wlan1 address=172.17.3.4/16',
    );
    assert.equal(humanLine({ level: 'info', message: 'serving' }, { timestamps: false, journal: false }), 'info  serving');
  });

  it('quotes values that are not one plain word, and shows an error by its message', () => {
    const info = {
      level: 'warn',
      message: 'attach failed for',
      guest: 'pid 7',
      ms: 30012,
      error: { code: 'guestTimeout', message: 'did not confirm', stack: 'at x' },
    };
    assert.equal(
      humanLine(info, { timestamps: false, journal: false }),
      'warn  attach failed for pid 7 in 30012 ms: error="did not confirm" code=guestTimeout',
    );
    assert.equal(
      humanLine({ level: 'info', message: 'moved', guests: 'pid 1, pid 2', steps: ['a b'] }, { timestamps: false, journal: false }),
      'info  moved: guests="pid 1, pid 2" steps=["a b"]',
    );
  });

  it('in the journal, a syslog priority instead of the time', () => {
    assert.equal(humanLine({ level: 'warn', message: 'x' }, { timestamps: true, journal: true }, NOW), '<4>warn  x');
    assert.equal(humanLine({ level: 'info', message: 'x' }, { timestamps: true, journal: true }, NOW), '<6>info  x');
  });

  it('knows the journal stream by the device and inode systemd names, and defaults to human lines there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'guestnet-log-'));
    const fd = openSync(join(dir, 'stream'), 'w');
    try {
      const stat = fstatSync(fd, { bigint: true });
      const env = { JOURNAL_STREAM: `${stat.dev}:${stat.ino}` };
      assert.equal(isJournalStream(fd, env), true);
      assert.equal(isJournalStream(fd, { JOURNAL_STREAM: `${stat.dev}:${stat.ino + 1n}` }), false);
      assert.equal(isJournalStream(fd, {}), false);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });

  it('defaults: JSON to a file, the flag when given; a bad flag is a usage error', () => {
    assert.deepEqual(logFormatOf(undefined, { file: '/tmp/x.log' }, {}), { format: 'json', timestamps: true, journal: false });
    assert.equal(logFormatOf('human', { file: '/tmp/x.log' }, {}).format, 'human');
    assert.throws(() => logFormatOf('xml', 'stdout', {}), /--log-format: 'xml' is not human or json/);
  });
});
