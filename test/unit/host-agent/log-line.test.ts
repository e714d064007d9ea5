import assert from 'node:assert/strict';
import { humanLine } from '@guestnet/host-agent';

const NOW = () => new Date('2025-05-01T09:30:00.000Z');

describe('the human form of a log line', () => {
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

  it("leaves the host agent's own name out, and shows an error given as text or with its code", () => {
    const plain = { timestamps: false, journal: false };
    assert.equal(humanLine({ level: 'info', message: 'up', agent: 'host' }, plain), 'info  up');
    assert.equal(humanLine({ level: 'info', message: 'up', agent: 'guest' }, plain), 'info  up: agent=guest');
    assert.equal(humanLine({ level: 'error', message: 'failed', error: 'gone' }, plain), 'error failed: error=gone');
    assert.equal(
      humanLine({ level: 'error', message: 'failed', error: { message: 'no such pid', code: 'badPid' } }, plain),
      'error failed: error="no such pid" code=badPid',
    );
    assert.equal(
      humanLine({ level: 'trace', message: 'x' }, { timestamps: false, journal: true }),
      '<6>trace x',
      'an unknown level is info to syslog',
    );
  });
});
