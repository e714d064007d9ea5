import assert from 'node:assert/strict';
import {
  canonicalJson,
  checkToken,
  linkIdOf,
  linkKeyOf,
  macOf,
  newNonce,
  newOneTimeToken,
  oneTimeNameOf,
  proofOf,
  signed,
  tokenOfLink,
  verifies,
} from '@guestnet/protocol';

const token = `guestnet:${'e'.repeat(32)}`;
const key = linkKeyOf(token);
const nonces = { guest: newNonce(), host: newNonce() };

describe('protocol v2 authentication', () => {
  it('names a link by an id that does not reveal its token', () => {
    const id = linkIdOf(token);
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(linkIdOf(token), id, 'stable');
    assert.notEqual(linkIdOf(`guestnet:${'f'.repeat(32)}`), id);
    assert.ok(!id.includes('e'.repeat(8)));
    assert.notEqual(key.toString('hex').slice(0, 32), id, 'the id is not the key');
  });

  it("binds each proof to its role and to both sides' nonces", () => {
    const host = proofOf(key, 'host', nonces);
    assert.notEqual(proofOf(key, 'guest', nonces), host);
    assert.notEqual(proofOf(key, 'host', { ...nonces, host: newNonce() }), host);
    assert.notEqual(proofOf(key, 'host', { ...nonces, guest: newNonce() }), host);
    assert.notEqual(proofOf(linkKeyOf(`guestnet:${'f'.repeat(32)}`), 'host', nonces), host);
  });

  it('detects a change to any field of a signed message, and a signature from another session', () => {
    const configure = signed(key, nonces, {
      type: 'configure',
      id: linkIdOf(token),
      seq: 1,
      link: { mtu: 1500, rename: 'wlan0' },
      dns: ['192.0.2.53'],
    });
    assert.ok(verifies(key, nonces, configure));
    assert.ok(!verifies(key, nonces, { ...configure, dns: ['198.51.100.53'] }));
    assert.ok(!verifies(key, nonces, { ...configure, seq: 2 }));
    assert.ok(!verifies(key, nonces, { ...configure, link: { mtu: 1400, rename: 'wlan0' } }));
    assert.ok(!verifies(key, { ...nonces, host: newNonce() }, configure), 'replayed into another session');
    assert.ok(!verifies(key, nonces, { ...configure, mac: 'zz' }));
  });

  it('signs the same value the same whatever the order of its keys', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ y: 2, x: 1 }] }), '{"a":[{"x":1,"y":2}],"b":1}');
    assert.equal(macOf(key, nonces, { a: 1, b: 2 }), macOf(key, nonces, { b: 2, a: 1 }));
  });
});

describe('protocol README worked example', () => {
  it('names the token of the example by the id it shows', () => {
    assert.equal(linkIdOf('guestnet:00112233445566778899aabbccddeeff'), 'afd29d94eeba113a649ec4e29e9da7c9');
  });

  it("makes one-time tokens that are also a guest end's name: gn and 13 letters and digits, never twice", () => {
    const tokens = new Set(Array.from({ length: 200 }, newOneTimeToken));
    assert.equal(tokens.size, 200);
    for (const token of tokens) {
      assert.match(token, /^guestnet:gn[A-Za-z0-9]{13}$/);
      assert.ok(checkToken(token).ok);
      assert.equal(oneTimeNameOf(token), token.slice('guestnet:'.length));
    }
    assert.equal(oneTimeNameOf(token), undefined, 'a token of hex digits names no link');
    assert.ok(!checkToken('guestnet:gnShort').ok);
    assert.ok(!checkToken('guestnet:gn/../../etc/pwd').ok);
  });

  it("reads a link's token from its alias, or from a one-time first name when it has no alias", () => {
    assert.equal(tokenOfLink({ name: 'wlan0', alias: token }), token);
    assert.equal(tokenOfLink({ name: 'gnAbCdEf0123456', alias: undefined }), 'guestnet:gnAbCdEf0123456');
    assert.equal(
      tokenOfLink({ name: 'gnAbCdEf0123456', alias: "somebody else's" }),
      undefined,
      'an alias of another makes the name no token',
    );
    assert.equal(tokenOfLink({ name: 'vm_wlan0', alias: undefined }), undefined);
    assert.equal(tokenOfLink({ name: 'eth0', alias: 'guestnet:not-a-token' }), undefined);
  });
});
