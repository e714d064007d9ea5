import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureLog, flushLog, isJournalStream, log, logFormatOf } from '@guestnet/host-agent';

describe('the daemon log lines', () => {
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

  it('drops a line logged after the flush for exit: the stream it would go to has ended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'guestnet-log-'));
    const file = join(dir, 'daemon.log');
    try {
      configureLog({ level: 'info', target: { file }, format: 'json' });
      log('info', 'stopping');
      await flushLog();
      log('info', 'a link went while stopping');
      await new Promise((r) => setTimeout(r, 50));
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      assert.deepEqual(
        lines.map((line) => JSON.parse(line).message),
        ['stopping'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
