import assert from 'node:assert/strict';
import { parseGuestMessage, parseHostMessage, PROTOCOL_VERSION, ProtocolError } from '@guestnet/protocol';

const token = `guestnet:${'c'.repeat(32)}`;
const hello = { type: 'hello', version: PROTOCOL_VERSION, tokens: [token], capabilities: [] };
const configure = {
  type: 'configure',
  token,
  link: { name: 'vm_wlan0', rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' },
  dns: ['192.0.2.53'],
};

describe('message validation', () => {
  it('accepts well-formed messages', () => {
    assert.deepEqual(parseGuestMessage(hello), hello);
    assert.deepEqual(parseHostMessage(configure), configure);
  });

  for (const [label, raw] of [
    ['{}', {}],
    ['type constructor', { type: 'constructor' }],
    ['type __proto__', JSON.parse('{"type":"__proto__"}')],
    ['an array', []],
    ['null', null],
    ['a string', 'hello'],
  ] as const) {
    it(`rejects ${label} without throwing anything but a ProtocolError`, () => {
      assert.throws(() => parseGuestMessage(raw), ProtocolError);
      assert.throws(() => parseHostMessage(raw), ProtocolError);
    });
  }

  it('rejects a wrong version with the version the host speaks', () => {
    assert.throws(() => parseGuestMessage({ ...hello, version: 99 }), /unsupported protocol version '99' \(this host speaks 1\)/);
  });

  it('rejects unknown fields, forged tokens and too many tokens', () => {
    assert.throws(() => parseGuestMessage({ ...hello, extra: 1 }), /unknown field 'extra'/);
    assert.throws(() => parseGuestMessage({ ...hello, tokens: ['guestnet:xyz'] }), ProtocolError);
    assert.throws(() => parseGuestMessage({ ...hello, tokens: Array(9).fill(token) }), /at most 8/);
  });

  for (const name of ['../x', 'eth0; reboot', 'x'.repeat(200), '', 'a/b', ' eth0']) {
    it(`rejects the interface name ${JSON.stringify(name.slice(0, 20))}`, () => {
      assert.throws(() => parseHostMessage({ ...configure, link: { ...configure.link, rename: name } }), /not a valid interface name/);
    });
  }

  it('rejects out-of-range prefixes, MTUs and addresses', () => {
    for (const prefixLength of [0, 31, 33, -1, 1.5, '16']) {
      assert.throws(() => parseHostMessage({ ...configure, link: { ...configure.link, prefixLength } }), /prefix length/);
    }
    assert.throws(() => parseHostMessage({ ...configure, link: { ...configure.link, mtu: 67 } }), /MTU/);
    assert.throws(() => parseHostMessage({ ...configure, link: { ...configure.link, address: '256.1.1.1' } }), /IPv4/);
    assert.throws(() => parseHostMessage({ ...configure, dns: ['01.2.3.4'] }), /IPv4/);
  });

  it('accepts an applied report or a failure, and nothing in between', () => {
    const state = { name: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2', dns: [] };
    assert.equal(parseGuestMessage({ type: 'applied', token, ok: true, changes: 3, state }).type, 'applied');
    assert.equal(parseGuestMessage({ type: 'applied', token, ok: false, error: { code: 'x', message: 'y' } }).type, 'applied');
    assert.throws(() => parseGuestMessage({ type: 'applied', token, ok: 'yes' }), /ok must be/);
    assert.throws(() => parseGuestMessage({ type: 'applied', token, ok: true, changes: -1, state }), /changes/);
  });

  it('accepts ping, pong and release, each only in its direction', () => {
    assert.deepEqual(parseGuestMessage({ type: 'ping', seq: 7 }), { type: 'ping', seq: 7 });
    assert.deepEqual(parseHostMessage({ type: 'pong', seq: 7 }), { type: 'pong', seq: 7 });
    assert.deepEqual(parseHostMessage({ type: 'release', token }), { type: 'release', token });
    assert.throws(() => parseHostMessage({ type: 'ping', seq: 1 }), /unknown host message type 'ping'/);
    assert.throws(() => parseGuestMessage({ type: 'release', token }), /unknown guest message type 'release'/);
  });

  it('rejects a ping whose seq is not a small integer', () => {
    for (const seq of [-1, 1.5, 2 ** 31, '1', null]) {
      assert.throws(() => parseGuestMessage({ type: 'ping', seq }), /ping.seq must be an integer/);
    }
    assert.throws(() => parseGuestMessage({ type: 'ping', seq: 1, token }), /unknown field 'token'/);
    assert.throws(() => parseHostMessage({ type: 'release', token: 'guestnet:nope' }), /release.token/);
  });
});
