import assert from 'node:assert/strict';
import {
  checkIfName,
  checkIPv4,
  checkIPv6,
  checkMtu,
  checkPid,
  checkPrefixLength,
  checkPrefixLength6,
  checkToken,
  excerpt,
  intToIPv4,
  ipv4ToInt,
  networkOf,
  oneTimeNameOf,
  tokenOfLink,
} from '@guestnet/protocol';

const accepts = (check: (v: unknown) => { ok: boolean }, values: unknown[]) => {
  for (const value of values) assert.equal(check(value).ok, true, `refused ${JSON.stringify(value)}`);
};
const refuses = (check: (v: unknown) => { ok: boolean }, values: unknown[]) => {
  for (const value of values) assert.equal(check(value).ok, false, `accepted ${JSON.stringify(value)}`);
};

describe('protocol validators', () => {
  it('interface names: 1 to 15 characters a tool can take anywhere, never . or ..', () => {
    accepts(checkIfName, ['wlan0', 'vm_wlan0', 'a', 'rmnet_data0.123', '_x', 'x'.repeat(15)]);
    refuses(checkIfName, ['', '.', '..', '-x', 'x'.repeat(16), 'a b', 'a/b', 'a:b', 'eth0;rm', 'é', 7, null, undefined]);
    assert.deepEqual(checkIfName(`bad\n${'x'.repeat(60)}`), {
      ok: false,
      reason: `'bad?${'x'.repeat(36)}...' is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`,
    });
  });

  it('IPv4: four decimal octets, no leading zeros, nothing around them', () => {
    accepts(checkIPv4, ['0.0.0.0', '172.17.3.3', '255.255.255.255', '192.0.2.1']);
    refuses(checkIPv4, ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', ' 1.2.3.4', '1.2.3.4/24', '::1', 16909060]);
  });

  it('IPv6: lower-case full or compressed forms, no zone and no embedded IPv4', () => {
    accepts(checkIPv6, ['::1', 'fd00::ac11:303', '2001:db8:0:0:0:0:0:1', 'fe80::1']);
    refuses(checkIPv6, ['FD00::1', 'fe80::1%eth0', '::ffff:1.2.3.4', '1:2:3', ':::', '', 'fd00::/64', 1]);
  });

  it('prefix lengths: IPv4 1 to 30 leaves room for a gateway and a guest; IPv6 64 to 120', () => {
    accepts(checkPrefixLength, [1, 16, 30]);
    refuses(checkPrefixLength, [0, 31, 32, 16.5, '16']);
    accepts(checkPrefixLength6, [64, 96, 120]);
    refuses(checkPrefixLength6, [48, 63, 121, 128, '64']);
  });

  it('MTUs from 68 to 65535, integers only', () => {
    accepts(checkMtu, [68, 1500, 65535]);
    refuses(checkMtu, [67, 65536, 1500.5, '1500']);
  });

  it('pids: an integer or up to seven digits as text, from 1 to 2^22', () => {
    assert.deepEqual(checkPid('4242'), { ok: true, value: 4242 });
    assert.deepEqual(checkPid(4194304), { ok: true, value: 4194304 });
    refuses(checkPid, [0, -1, 4194305, '0x10', '12345678', ' 42', '4.2', 1.5]);
  });

  it('tokens: 32 hex digits, or gn and 13 letters and digits, after guestnet:', () => {
    accepts(checkToken, [`guestnet:${'a'.repeat(32)}`, 'guestnet:gnAbCdEf0123456']);
    refuses(checkToken, [
      `guestnet:${'A'.repeat(32)}`,
      `guestnet:${'a'.repeat(31)}`,
      'guestnet:gnAbCdEf012345',
      'gnAbCdEf0123456',
      `x:${'a'.repeat(32)}`,
    ]);
  });

  it("a link's token is its alias, else its one-time first name when it has no alias", () => {
    const hex = `guestnet:${'a'.repeat(32)}`;
    assert.equal(tokenOfLink({ name: 'eth0', alias: hex }), hex);
    assert.equal(tokenOfLink({ name: 'gnAbCdEf0123456' }), 'guestnet:gnAbCdEf0123456');
    assert.equal(tokenOfLink({ name: 'gnAbCdEf0123456', alias: 'something else' }), undefined, 'an alias that is no token hides the name');
    assert.equal(tokenOfLink({ name: 'eth0' }), undefined);
    assert.equal(oneTimeNameOf('guestnet:gnAbCdEf0123456'), 'gnAbCdEf0123456');
    assert.equal(oneTimeNameOf(hex), undefined);
    assert.equal(oneTimeNameOf('gnAbCdEf0123456'), undefined);
  });

  it('IPv4 arithmetic: to and from integers, and the network of an address', () => {
    assert.equal(ipv4ToInt('172.17.3.3'), 0xac110303);
    assert.equal(ipv4ToInt('255.255.255.255'), 2 ** 32 - 1, 'no sign bit');
    assert.equal(intToIPv4(0xac110303), '172.17.3.3');
    assert.equal(intToIPv4(2 ** 32 - 1), '255.255.255.255');
    assert.equal(networkOf('172.17.3.3', 16), '172.17.0.0');
    assert.equal(networkOf('192.0.2.130', 25), '192.0.2.128');
    assert.equal(networkOf('10.1.2.3', 1), '0.0.0.0');
  });

  it('shows untrusted text printable and short', () => {
    assert.equal(excerpt('a\u0000b\u00e9c'), 'a?b?c');
    assert.equal(excerpt('x'.repeat(41)), `${'x'.repeat(40)}...`);
    assert.equal(excerpt('abcdef', 3), 'abc...');
  });
});
