import assert from 'node:assert/strict';
import { createLog } from '@guestnet/guest-agent';

describe('guest agent log', () => {
  const capture = (level: Parameters<typeof createLog>[0]) => {
    const lines: string[] = [];
    return { log: createLog(level, (line) => lines.push(line)), lines };
  };

  it('writes one JSON object per line, with agent, level, message, timestamp and the meta', () => {
    const { log, lines } = capture('info');
    log.log('warn', 'lost the daemon', { socket: '/run/guestnet.sock' });
    assert.equal(lines.length, 1);
    assert.ok(lines[0]?.endsWith('\n'));
    const entry = JSON.parse(lines[0] as string);
    assert.deepEqual(
      { ...entry, timestamp: typeof entry.timestamp },
      { socket: '/run/guestnet.sock', agent: 'guest', level: 'warn', message: 'lost the daemon', timestamp: 'string' },
    );
  });

  it('drops what is below its level', () => {
    const { log, lines } = capture('warn');
    log.log('info', 'applied');
    log.log('debug', 'details');
    log.log('error', 'failed');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).level),
      ['error'],
    );
  });

  it('prints an Error as its name and message, not as {}', () => {
    const { log, lines } = capture('debug');
    log.log('error', 'apply failed', { error: new RangeError('bad prefix') });
    assert.deepEqual(JSON.parse(lines[0] as string).error, { name: 'RangeError', message: 'bad prefix' });
  });

  it('keeps its own fields when the meta names them too', () => {
    const { log, lines } = capture('info');
    log.log('info', 'real', { level: 'debug', message: 'fake', agent: 'host' });
    const entry = JSON.parse(lines[0] as string);
    assert.deepEqual([entry.agent, entry.level, entry.message], ['guest', 'info', 'real']);
  });
});
