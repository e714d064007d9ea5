import assert from 'node:assert/strict';
import { settingChecks as checks } from '@guestnet/host-agent';

const value = <T>(checked: { ok: true; value: T } | { ok: false; reason: string }) => (checked.ok ? checked.value : checked.reason);

describe('setting checks', () => {
  it("reads a flag's digits as a number, anything else as it is", () => {
    const timeout = checks.fromString(checks.checkTimeout);
    assert.equal(value(timeout('5000')), 5000);
    assert.equal(value(timeout(5000)), 5000);
    assert.equal(value(timeout('5s')), 'must be milliseconds from 100 to 3600000');
    assert.equal(value(timeout('99')), 'must be milliseconds from 100 to 3600000');
  });

  it('normalises an IPv4 pool to its network, prefix 8 to 30', () => {
    assert.equal(value(checks.checkCidr('172.17.3.3/16')), '172.17.0.0/16');
    for (const bad of ['172.17.0.0', '172.17.0.0/7', '172.17.0.0/31', '172.17.0.0/16/1', '300.0.0.0/16', 17])
      assert.match(String(value(checks.checkCidr(bad))), /is not an IPv4 pool like 172\.17\.0\.0\/16 \(prefix 8 to 30\)$/);
  });

  it('normalises an IPv6 pool to its lower-case network, prefix 64 to 96', () => {
    assert.equal(value(checks.checkPool6('FD00:1:2:3::ABCD/64')), 'fd00:1:2:3::/64');
    assert.equal(value(checks.checkPool6('2001:db8::1:2:3/96')), '2001:db8::1:0:0/96');
    for (const bad of ['fd00::/48', 'fd00::/97', 'fd00::', '172.17.0.0/64'])
      assert.match(String(value(checks.checkPool6(bad))), /is not an IPv6 pool like fd00:1:2:3::\/64 \(prefix 64 to 96\)$/);
  });

  it('takes absolute paths only, short and without NUL', () => {
    assert.equal(value(checks.checkPath('/run/guestnet')), '/run/guestnet');
    for (const bad of ['run/guestnet', `/${'x'.repeat(100)}`, '/a\0b', 7])
      assert.equal(value(checks.checkPath(bad)), 'must be an absolute path of at most 100 characters');
  });

  it('takes words from their lists, and on/off as words or booleans', () => {
    assert.equal(value(checks.oneOf(['a', 'b'])('b')), 'b');
    assert.equal(value(checks.oneOf(['a', 'b'])('c')), 'must be one of a, b');
    assert.equal(value(checks.checkIpv6Choice('routed')), 'routed');
    assert.equal(value(checks.checkIpv6Choice('on')), 'must be one of auto, off, nat, routed');
    assert.equal(value(checks.checkFirewall('iptables-legacy')), 'iptables-legacy');
    assert.equal(value(checks.checkFirewall('pf')), 'must be one of auto, nftables, iptables, iptables-legacy');
    assert.equal(value(checks.checkPlatform('android')), 'android');
    assert.equal(value(checks.checkPlatform('ios')), 'must be auto, linux or android');
    assert.deepEqual([value(checks.checkOnOff('on')), value(checks.checkOnOff(false))], [true, false]);
    assert.equal(value(checks.checkOnOff('yes')), 'must be on or off');
    assert.equal(value(checks.checkBoolean('true')), 'must be true or false');
  });

  it('takes VLAN ids 1 to 4094, and link prefixes that leave room for three digits', () => {
    assert.equal(value(checks.checkVlanId(4094)), 4094);
    assert.equal(value(checks.checkVlanId(0)), 'must be a VLAN id from 1 to 4094');
    assert.equal(value(checks.checkVlanId(4095)), 'must be a VLAN id from 1 to 4094');
    assert.equal(value(checks.checkIfPrefix('vm_wlan')), 'vm_wlan');
    assert.equal(value(checks.checkIfPrefix('abcdefghijklm')), 'must be at most 12 characters');
    assert.match(String(value(checks.checkIfPrefix('a b'))), /is not a valid interface name/);
  });

  it('takes up to four IPv4 resolvers, as a comma list or an array, naming the first bad one', () => {
    assert.deepEqual(value(checks.checkDnsList('192.0.2.1,,198.51.100.1')), ['192.0.2.1', '198.51.100.1']);
    assert.deepEqual(value(checks.checkDnsList([])), []);
    assert.equal(value(checks.checkDnsList('1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5')), 'must be up to 4 IPv4 addresses');
    assert.equal(value(checks.checkDnsList(['192.0.2.1', '2001:db8::1'])), "'2001:db8::1' is not an IPv4 address");
    assert.equal(value(checks.checkDnsList(7)), 'must be up to 4 IPv4 addresses');
  });
});
