import assert from 'node:assert/strict';
import { fitTable, wrap } from '@guestnet/runtime/layout';

describe('runtime layout for terminals', () => {
  it('wraps between words, continuing under an indent, and keeps a long word whole', () => {
    assert.deepEqual(wrap('[warn] forward: inet filter forward has policy drop', 24, '       '), [
      '[warn] forward: inet',
      '       filter forward',
      '       has policy drop',
    ]);
    assert.deepEqual(wrap('       fix: allow it', 80, '            '), ['       fix: allow it']);
    assert.deepEqual(wrap('a 2001:db8:1234:5678:9abc:def0:1234:5678/64 b', 10, '  '), [
      'a',
      '  2001:db8:1234:5678:9abc:def0:1234:5678/64',
      '  b',
    ]);
  });

  it('leaves out columns lowest drop order first until the table fits, and says which', () => {
    const columns = [
      { header: 'GUEST', cells: ['4242'] },
      { header: 'GATEWAY', cells: ['172.17.3.2'], dropOrder: 1 },
      { header: 'ADDRESS', cells: ['172.17.3.3/16'] },
      { header: 'FORWARDS', cells: ['5555->5555/tcp'], dropOrder: 2 },
    ];
    assert.deepEqual(fitTable(columns, 80), {
      lines: ['GUEST  GATEWAY     ADDRESS        FORWARDS', '4242   172.17.3.2  172.17.3.3/16  5555->5555/tcp'],
      left: [],
    });
    const narrow = fitTable(columns, 38);
    assert.deepEqual(narrow.left, ['GATEWAY']);
    assert.ok(narrow.lines.every((line) => line.length <= 38));
    assert.deepEqual(fitTable(columns, 10).left, ['GATEWAY', 'FORWARDS']);
  });
});
