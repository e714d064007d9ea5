import assert from 'node:assert/strict';
import { parseGuestMessage, parseHostMessage, PROTOCOL_VERSION, ProtocolError } from '@guestnet/protocol';

const id = 'c'.repeat(32);
const nonce = 'a'.repeat(32);
const mac = 'b'.repeat(64);
const hello = { type: 'hello', version: PROTOCOL_VERSION, links: [id], nonce, capabilities: [] };
const configure = {
  type: 'configure',
  id,
  seq: 1,
  link: { rename: 'wlan0', mtu: 1500, address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2' },
  dns: ['192.0.2.53'],
  mac,
};

describe('message validation', () => {
  it('accepts well-formed messages', () => {
    assert.deepEqual(parseGuestMessage(hello), hello);
    assert.deepEqual(parseHostMessage(configure), configure);
    const challenge = { type: 'challenge', link: id, nonce, proof: mac };
    assert.deepEqual(parseHostMessage(challenge), challenge);
    assert.deepEqual(parseGuestMessage({ type: 'prove', proof: mac }), { type: 'prove', proof: mac });
  });

  it('never carries a token: a v1 hello with tokens is refused by its version, a v2 one with tokens by its fields', () => {
    assert.throws(
      () => parseGuestMessage({ type: 'hello', version: 1, tokens: [`guestnet:${'c'.repeat(32)}`], capabilities: [] }),
      /unsupported protocol version '1'/,
    );
    assert.throws(() => parseGuestMessage({ ...hello, tokens: [`guestnet:${'c'.repeat(32)}`] }), /unknown field 'tokens'/);
    assert.throws(() => parseHostMessage({ ...configure, token: `guestnet:${'c'.repeat(32)}` }), /unknown field 'token'/);
  });

  it("names the guest's link only by its link id: a configure with v2's link.name is refused", () => {
    assert.throws(() => parseHostMessage({ ...configure, link: { ...configure.link, name: 'gnAbCdEfGhIjKlM' } }), /unknown field 'name'/);
  });

  it('refuses a hello of another version in one line that names both versions', () => {
    const refusal = (() => {
      try {
        parseGuestMessage({ ...hello, version: 2 });
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    assert.equal(refusal, `unsupported protocol version '2' (this host speaks ${PROTOCOL_VERSION})`);
    assert.equal(PROTOCOL_VERSION, 3);
  });

  it('requires a signature and a sequence number on configure, applied and release', () => {
    const { mac: _, ...unsigned } = configure;
    assert.throws(() => parseHostMessage(unsigned), /configure.mac/);
    assert.throws(() => parseHostMessage({ ...configure, seq: 0 }), /configure.seq/);
    assert.throws(() => parseHostMessage({ type: 'release', id, seq: 2 }), /release.mac/);
    assert.throws(() => parseGuestMessage({ type: 'applied', id, ok: false, error: { code: 'x', message: 'y' }, mac }), /applied.seq/);
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
    assert.throws(() => parseGuestMessage({ ...hello, version: 99 }), /unsupported protocol version '99' \(this host speaks 3\)/);
  });

  it('rejects unknown fields, malformed link ids and nonces, and too many links', () => {
    assert.throws(() => parseGuestMessage({ ...hello, extra: 1 }), /unknown field 'extra'/);
    assert.throws(() => parseGuestMessage({ ...hello, links: ['xyz'] }), ProtocolError);
    assert.throws(() => parseGuestMessage({ ...hello, nonce: 'A'.repeat(32) }), /hello.nonce/);
    assert.throws(() => parseGuestMessage({ ...hello, links: Array(9).fill(id) }), /at most 8/);
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
    const applied = { type: 'applied', id, seq: 1, mac };
    assert.equal(parseGuestMessage({ ...applied, ok: true, changes: 3, state }).type, 'applied');
    assert.equal(parseGuestMessage({ ...applied, ok: false, error: { code: 'x', message: 'y' } }).type, 'applied');
    assert.throws(() => parseGuestMessage({ ...applied, ok: 'yes' }), /ok must be/);
    assert.throws(() => parseGuestMessage({ ...applied, ok: true, changes: -1, state }), /changes/);
  });

  it('accepts ping, pong and release, each only in its direction', () => {
    assert.deepEqual(parseGuestMessage({ type: 'ping', seq: 7 }), { type: 'ping', seq: 7 });
    assert.deepEqual(parseHostMessage({ type: 'pong', seq: 7 }), { type: 'pong', seq: 7 });
    assert.deepEqual(parseHostMessage({ type: 'release', id, seq: 2, mac }), { type: 'release', id, seq: 2, mac });
    assert.throws(() => parseHostMessage({ type: 'ping', seq: 1 }), /unknown host message type 'ping'/);
    assert.throws(() => parseGuestMessage({ type: 'release', id, seq: 2, mac }), /unknown guest message type 'release'/);
  });

  it('rejects a ping whose seq is not a small integer', () => {
    for (const seq of [-1, 1.5, 2 ** 31, '1', null]) {
      assert.throws(() => parseGuestMessage({ type: 'ping', seq }), /ping.seq must be an integer/);
    }
    assert.throws(() => parseGuestMessage({ type: 'ping', seq: 1, id }), /unknown field 'id'/);
    assert.throws(() => parseHostMessage({ type: 'release', id: 'nope', seq: 2, mac }), /release.id/);
  });
});
