import assert from 'node:assert/strict';
import { buildDhcpReply, DhcpMessageType, DhcpOption, dhcpConfigOptions, dhcpLeaseOptions, parseDhcpMessage } from '@guestnet/host-agent';
import { GUEST } from './packets.js';

describe('DHCP replies', () => {
  it('builds an OFFER that reads back: BOOTREPLY, yiaddr, chaddr, xid, flags, options; at least BOOTP size', () => {
    const packet = buildDhcpReply({
      type: DhcpMessageType.offer,
      xid: 0xdeadbeef,
      flags: 0x8000,
      chaddr: GUEST.mac,
      ciaddr: '0.0.0.0',
      yiaddr: GUEST.address,
      serverId: GUEST.gateway,
      options: [[DhcpOption.interfaceMtu, Buffer.from([5, 120])]],
    });
    assert.ok(packet.length >= 300);
    const message = parseDhcpMessage(packet);
    assert.deepEqual(
      { ...message, options: Object.fromEntries([...message.options].map(([code, value]) => [code, [...value]])) },
      {
        op: 2,
        type: DhcpMessageType.offer,
        hops: 0,
        xid: 0xdeadbeef,
        flags: 0x8000,
        ciaddr: '0.0.0.0',
        yiaddr: GUEST.address,
        giaddr: '0.0.0.0',
        chaddr: GUEST.mac,
        options: { 53: [2], 54: [172, 17, 3, 2], 26: [5, 120] },
      },
    );
  });

  it('configures a guest with its mask, router, at most eight resolvers and MTU, none when it has no resolver', () => {
    const guest = { link: 'vm_wlan0', mac: '02:00:00:00:00:07', address: '172.17.3.3', prefixLength: 16, gateway: '172.17.3.2', mtu: 1400 };
    const shown = (options: Array<[number, Buffer]>) => options.map(([code, value]) => [code, [...value]]);
    assert.deepEqual(shown(dhcpConfigOptions({ ...guest, dns: ['192.0.2.53'] })), [
      [DhcpOption.subnetMask, [255, 255, 0, 0]],
      [DhcpOption.router, [172, 17, 3, 2]],
      [DhcpOption.dnsServers, [192, 0, 2, 53]],
      [DhcpOption.interfaceMtu, [5, 120]],
    ]);
    assert.deepEqual(
      dhcpConfigOptions({ ...guest, dns: [] }).map(([code]) => code),
      [DhcpOption.subnetMask, DhcpOption.router, DhcpOption.interfaceMtu],
    );
    const many = Array.from({ length: 12 }, (_, i) => `192.0.2.${i + 1}`);
    assert.equal(dhcpConfigOptions({ ...guest, dns: many }).find(([code]) => code === DhcpOption.dnsServers)?.[1].length, 32);
  });

  it('renews at half the lease and rebinds at seven eighths', () => {
    assert.deepEqual(
      dhcpLeaseOptions({ leaseSeconds: 3601 }).map(([code, value]) => [code, value.readUInt32BE()]),
      [
        [DhcpOption.leaseTime, 3601],
        [DhcpOption.renewalTime, 1800],
        [DhcpOption.rebindingTime, 3150],
      ],
    );
  });

  it('echoes only the broadcast flag, and a NAK carries no address', () => {
    const nak = buildDhcpReply({
      type: DhcpMessageType.nak,
      xid: 1,
      flags: 0xffff,
      chaddr: GUEST.mac,
      ciaddr: '0.0.0.0',
      yiaddr: '0.0.0.0',
      serverId: GUEST.gateway,
      options: [],
    });
    const message = parseDhcpMessage(nak);
    assert.equal(message.flags, 0x8000);
    assert.equal(message.yiaddr, '0.0.0.0');
    assert.equal(message.type, DhcpMessageType.nak);
  });
});
