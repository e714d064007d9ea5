import assert from 'node:assert/strict';
import {
  DHCP_MAX_REQUEST_BYTES,
  DhcpMessageType,
  DhcpOption,
  DhcpRefusal,
  parseDhcpMessage,
  parseDhcpRequest,
  writeDhcpOptions,
} from '@guestnet/host-agent';
import { addressOption, GUEST, randomBytesFrom, request, seeded, withType } from './packets.js';

const refusal = (packet: Buffer, reason: RegExp) =>
  assert.throws(
    () => parseDhcpRequest(packet),
    (error: unknown) => error instanceof DhcpRefusal && reason.test(error.reason),
  );

describe('DHCP wire: requests', () => {
  it('reads a DISCOVER: type, xid, flags, chaddr, the parameters asked for', () => {
    const parsed = parseDhcpRequest(request({ flags: 0x8000, options: withType(1, 55, 3, 1, 3, 6, 61, 7, 1, 2, 3, 4, 5, 6, 7) }));
    assert.deepEqual(parsed, {
      type: DhcpMessageType.discover,
      xid: 0x1234abcd,
      flags: 0x8000,
      broadcast: true,
      ciaddr: '0.0.0.0',
      chaddr: GUEST.mac,
      parameters: [1, 3, 6],
    });
  });

  it('reads a REQUEST with its requested address and server identifier, past pads', () => {
    const options = withType(3, 0, 0, ...addressOption(50, '172.17.3.3'), 0, ...addressOption(54, '172.17.3.2'));
    const parsed = parseDhcpRequest(request({ options }));
    assert.equal(parsed.requestedAddress, '172.17.3.3');
    assert.equal(parsed.serverId, '172.17.3.2');
  });

  it('reads options overloaded into file and sname (option 52), file first', () => {
    const options = [53, 1, 3, 52, 1, 3, 255];
    const parsed = parseDhcpRequest(
      request({ options, file: [...addressOption(50, '172.17.3.3'), 255], sname: [...addressOption(54, '172.17.3.2'), 255] }),
    );
    assert.equal(parsed.requestedAddress, '172.17.3.3');
    assert.equal(parsed.serverId, '172.17.3.2');
  });

  it('joins an option split in pieces (RFC 3396), and writes a long one in pieces', () => {
    const parsed = parseDhcpRequest(request({ options: withType(1, 55, 2, 1, 3, 55, 1, 6) }));
    assert.deepEqual(parsed.parameters, [1, 3, 6]);
    const value = Buffer.alloc(600, 7);
    const written = writeDhcpOptions([[DhcpOption.parameterList, value]]);
    assert.equal(written.length, 600 + 3 * 2 + 1);
    const header = request({ options: [] });
    const message = parseDhcpMessage(Buffer.concat([header, Buffer.from(withType(1).slice(0, -1)), written]));
    assert.deepEqual(message.options.get(DhcpOption.parameterList), value);
  });

  it('takes options that end at the end of the packet without END', () => {
    assert.equal(parseDhcpRequest(request({ options: [53, 1, 8] })).type, DhcpMessageType.inform);
  });

  const refusals: Array<[string, Buffer, RegExp]> = [
    ['a packet shorter than the header', request().subarray(0, 239), /shorter/],
    ['a packet longer than the bound', Buffer.concat([request(), Buffer.alloc(DHCP_MAX_REQUEST_BYTES)]), /longer/],
    ['a reply (op 2)', request({ op: 2 }), /BOOTREQUEST/],
    ['hardware other than Ethernet', request({ htype: 6 }), /Ethernet/],
    ['a hardware address length other than 6', request({ hlen: 16 }), /Ethernet/],
    ['no magic cookie', request({ cookie: 0x63825364 }), /cookie/],
    ['an option running past the end', request({ options: [53, 1, 1, 12, 200, 1, 2] }), /past the end/],
    ['an option length byte missing', request({ options: [53, 1, 1, 12] }), /past the end/],
    ['no message type', request({ options: [12, 1, 65, 255] }), /message type/],
    ['a message type of two bytes', request({ options: [53, 2, 1, 1, 255] }), /message type/],
    ['a server message type', request({ options: withType(2) }), /server/],
    ['an unknown message type', request({ options: withType(9) }), /message type/],
    ['a relayed request (giaddr)', request({ giaddr: '192.0.2.1' }), /relayed/],
    ['a relayed request (hops)', request({ hops: 1 }), /relayed/],
    ['a requested address of 3 bytes', request({ options: withType(3, 50, 3, 1, 2, 3) }), /option 50/],
    ['a server identifier of 5 bytes', request({ options: withType(3, 54, 5, 1, 2, 3, 4, 5) }), /option 54/],
    ['an overload of 4', request({ options: withType(1, 52, 1, 4) }), /overload/],
    ['an overload of 2 bytes', request({ options: withType(1, 52, 2, 1, 1) }), /overload/],
    ['an overload inside the overloaded field', request({ options: withType(1, 52, 1, 1), file: [52, 1, 2, 255] }), /overload/],
    [
      'an option in file running past it',
      request({ options: withType(1, 52, 1, 1), file: [...Array(126).fill(0), 12, 9] }),
      /past the end/,
    ],
  ];
  for (const [what, packet, reason] of refusals) it(`refuses ${what}`, () => refusal(packet, reason));
});

describe('DHCP wire: whatever the bytes, a request or a DhcpRefusal', () => {
  const only = (packet: Buffer) => {
    try {
      parseDhcpRequest(packet);
    } catch (error) {
      if (!(error instanceof DhcpRefusal)) throw new Error(`threw ${String(error)} for ${packet.toString('hex')}`);
    }
  };

  it('random bytes of every length up to past the bound', () => {
    const random = seeded(29);
    for (let i = 0; i < 10_000; i++) only(randomBytesFrom(random, Math.floor(random() * (DHCP_MAX_REQUEST_BYTES + 100))));
  });

  it('valid headers with random options, overloads and fields', () => {
    const random = seeded(67);
    for (let i = 0; i < 5000; i++) {
      const options = [...randomBytesFrom(random, Math.floor(random() * 400))];
      if (random() < 0.5) options.unshift(52, 1, Math.floor(random() * 4));
      if (random() < 0.7) options.unshift(53, 1, Math.floor(random() * 10));
      only(request({ options, file: [...randomBytesFrom(random, 128)], sname: [...randomBytesFrom(random, 64)] }));
    }
  });

  it('a valid REQUEST with bytes flipped or cut anywhere', () => {
    const random = seeded(68);
    const valid = request({ options: withType(3, ...addressOption(50, '172.17.3.3'), ...addressOption(54, '172.17.3.2'), 55, 3, 1, 3, 6) });
    for (let i = 0; i < 10_000; i++) {
      const packet = Buffer.from(valid);
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--)
        packet[Math.floor(random() * packet.length)] = Math.floor(random() * 256);
      only(random() < 0.3 ? packet.subarray(0, Math.floor(random() * packet.length)) : packet);
    }
  });
});
