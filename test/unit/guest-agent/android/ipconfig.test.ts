import assert from 'node:assert/strict';
import { assignmentOf, dnsOf, withEntry } from '@guestnet/guest-agent';

const entry = { id: 'eth0', address: '10.0.0.2', prefixLength: 24, gateway: '10.0.0.1', dns: ['10.0.0.53'] };

// IpConfigStore's DataOutputStream layout, version 3: big-endian ints, strings as u16 length + bytes.
const GOLDEN =
  '00000003' +
  '000c697041737369676e6d656e74' +
  '0006535441544943' + // ipAssignment STATIC
  '000b6c696e6b41646472657373' +
  '000831302e302e302e32' +
  '00000018' + // linkAddress 10.0.0.2 /24
  '0007676174657761790000000100' +
  '07302e302e302e30' +
  '00000000' +
  '00000001' +
  '000831302e302e302e31' + // gateway dest 0.0.0.0/0 via 10.0.0.1
  '0003646e73' +
  '000931302e302e302e3533' + // dns 10.0.0.53
  '000d70726f787953657474696e6773' +
  '00044e4f4e45' + // proxySettings NONE
  '00026964' +
  '000465746830' + // id eth0
  '0003656f73'; // eos

describe("Android EthernetService's ipconfig.txt", () => {
  it('writes a static entry in the layout IpConfigStore reads', () => {
    assert.equal(withEntry(undefined, entry).toString('hex'), GOLDEN);
  });

  it('writes a DHCP entry as IpConfigStore does: the assignment, no address, gateway or DNS', () => {
    const dhcp = withEntry(undefined, { id: 'eth0', dhcp: true });
    const expected =
      '00000003' +
      '000c697041737369676e6d656e74' +
      '000444484350' + // ipAssignment DHCP
      '000d70726f787953657474696e6773' +
      '00044e4f4e45' + // proxySettings NONE
      '00026964' +
      '000465746830' + // id eth0
      '0003656f73'; // eos
    assert.equal(dhcp.toString('hex'), expected);
    assert.equal(assignmentOf(dhcp, 'eth0'), 'DHCP');
    assert.deepEqual(dnsOf(dhcp, 'eth0'), []);
    const backToStatic = withEntry(dhcp, entry);
    assert.equal(backToStatic.toString('hex'), GOLDEN, 'a static entry replaces the DHCP one');
    assert.equal(assignmentOf(backToStatic, 'eth0'), 'STATIC');
    assert.equal(assignmentOf(backToStatic, 'eth1'), undefined);
  });

  it('replaces our interface, keeps every other record byte for byte', () => {
    const wifiLike = withEntry(undefined, { ...entry, id: 'eth1', dns: [] });
    const both = withEntry(wifiLike, entry);
    const updated = withEntry(both, { ...entry, dns: ['10.0.0.54', '10.0.0.55'] });
    assert.ok(updated.includes(wifiLike.subarray(4)), 'the eth1 record changed');
    assert.deepEqual(dnsOf(updated, 'eth0'), ['10.0.0.54', '10.0.0.55']);
    assert.deepEqual(dnsOf(updated, 'eth1'), []);
    assert.deepEqual(
      withEntry(updated, { ...entry, dns: ['10.0.0.54', '10.0.0.55'] }),
      updated,
      'writing the same entry again changes nothing',
    );
  });

  it('refuses to rewrite a file it does not understand rather than lose its records', () => {
    const golden = Buffer.from(GOLDEN, 'hex');
    const version2 = Buffer.from(golden);
    version2.writeInt32BE(2);
    assert.throws(() => withEntry(version2, entry), /file version 2, not 3/);
    assert.throws(() => withEntry(golden.subarray(0, 20), entry), RangeError);
    const unknownKey = Buffer.concat([golden.subarray(0, 4), Buffer.from([0, 5]), Buffer.from('hello')]);
    assert.throws(() => withEntry(unknownKey, entry), /unknown key 'hello'/);
  });
});
