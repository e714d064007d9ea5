import assert from 'node:assert/strict';
import { newOneTimeToken, newToken, ONE_TIME_NAME_SHOWN, redact, secretsOf, TOKEN_SHOWN } from '@guestnet/protocol';

describe('secrets: what a token gives away, shown as placeholders', () => {
  it('a one-time token gives away its name too; a token of hex digits only itself', () => {
    const oneTime = newOneTimeToken();
    const name = oneTime.slice('guestnet:'.length);
    assert.deepEqual(secretsOf(oneTime), [oneTime, name]);
    const hex = newToken();
    assert.match(hex, /^guestnet:[0-9a-f]{32}$/);
    assert.deepEqual(secretsOf(hex), [hex]);
  });

  it('replaces the token before its name, wherever either is, and leaves the rest', () => {
    const token = newOneTimeToken();
    const name = token.slice('guestnet:'.length);
    const text = `link add ${name} alias ${token}; "token":"${token}" Cannot find device "${name}"`;
    assert.equal(
      redact(text, secretsOf(token)),
      `link add ${ONE_TIME_NAME_SHOWN} alias ${TOKEN_SHOWN}; "token":"${TOKEN_SHOWN}" Cannot find device "${ONE_TIME_NAME_SHOWN}"`,
    );
    assert.equal(redact('nothing secret here', secretsOf(token)), 'nothing secret here');
    assert.equal(redact('x', []), 'x');
  });
});
