import assert from 'node:assert/strict';
import {
  DhcpOption,
  DhcpRefusal,
  ipv4Bytes,
  ipv4Of,
  joinDhcpOptions,
  maskOf,
  readDhcpOptions,
  uint16Bytes,
  uint32Bytes,
  writeDhcpOptions,
} from '@guestnet/host-agent';

const read = (bytes: number[]) => {
  const into = new Map<number, Buffer[]>();
  readDhcpOptions(Buffer.from(bytes), into);
  return new Map([...joinDhcpOptions(into)].map(([code, value]) => [code, [...value]]));
};

describe('DHCP options', () => {
  it('reads code-length-value past pads, and stops at END or at the end of the field', () => {
    assert.deepEqual(
      read([0, 0, 53, 1, 3, 0, 61, 2, 1, 2, 255, 12, 1, 9]),
      new Map([
        [53, [3]],
        [61, [1, 2]],
      ]),
    );
    assert.deepEqual(read([53, 1, 1]), new Map([[53, [1]]]));
    assert.deepEqual(read([]), new Map());
  });

  it('refuses an option whose length runs past its field, or that has no length', () => {
    for (const bytes of [[53, 2, 1], [53], [12, 255, ...Array(10).fill(0x61)]])
      assert.throws(
        () => readDhcpOptions(Buffer.from(bytes), new Map()),
        (error: unknown) => error instanceof DhcpRefusal && /runs past the end of its field/.test(error.reason),
        JSON.stringify(bytes),
      );
  });

  it('joins the pieces of an option that appears more than once, in order (RFC 3396)', () => {
    assert.deepEqual(read([12, 2, 0x61, 0x62, 53, 1, 1, 12, 1, 0x63]).get(12), [0x61, 0x62, 0x63]);
  });

  it('writes options and END, an empty value as a zero length, a long one in pieces of 255', () => {
    assert.deepEqual([...writeDhcpOptions([[DhcpOption.messageType, Buffer.from([2])]])], [53, 1, 2, 255]);
    assert.deepEqual([...writeDhcpOptions([[80, Buffer.alloc(0)]])], [80, 0, 255]);
    const long = writeDhcpOptions([[DhcpOption.parameterList, Buffer.alloc(300, 7)]]);
    assert.equal(long.length, 2 + 255 + 2 + 45 + 1);
    assert.deepEqual([long[0], long[1], long[257], long[258]], [55, 255, 55, 45]);
    assert.deepEqual(read([...long]).get(55)?.length, 300, 'reads back whole');
  });

  it('converts addresses, integers and prefix lengths to their bytes', () => {
    assert.deepEqual([...ipv4Bytes('172.17.3.2')], [172, 17, 3, 2]);
    assert.equal(ipv4Of(Buffer.from([192, 0, 2, 1, 99])), '192.0.2.1');
    assert.deepEqual([...uint32Bytes(3600)], [0, 0, 14, 16]);
    assert.deepEqual([...uint16Bytes(1400)], [5, 120]);
    assert.equal(maskOf(16), '255.255.0.0');
    assert.equal(maskOf(30), '255.255.255.252');
    assert.equal(maskOf(1), '128.0.0.0');
    assert.equal(maskOf(0), '0.0.0.0');
    assert.equal(maskOf(32), '255.255.255.255');
  });
});
