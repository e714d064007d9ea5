import assert from 'node:assert/strict';
import { isNic, nicIdentityOf, notANic } from '@guestnet/host-agent';

// What `ip -d -j` printed on the development machine (iproute2 6.1, Linux 6.18): a virtio NIC,
// a veth, a macvlan and a tap. Trimmed to the fields guestnet reads, plus a few around them.
const VIRTIO = {
  ifindex: 4,
  ifname: 'eth0',
  flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
  mtu: 1400,
  link_type: 'ether',
  address: '02:fc:00:00:00:01',
  parentbus: 'virtio',
  parentdev: 'virtio2',
};
const VETH = {
  ifindex: 3,
  link_index: 2,
  ifname: 'v1',
  flags: ['BROADCAST', 'MULTICAST'],
  mtu: 1500,
  address: 'aa:0d:ba:a3:dd:69',
  link_netnsid: 0,
  linkinfo: { info_kind: 'veth' },
};
const MACVLAN = { ifname: 'mv', address: 'ea:cd:df:15:38:bf', link: 'v1', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'vepa' } } };
const TAP = { ifname: 'tp0', address: 'f6:96:bf:fb:0b:cf', linkinfo: { info_kind: 'tun', info_data: { type: 'tap' } } };

describe('phys NICs: known by what the kernel says and a guest cannot change', () => {
  it('a NIC is a link with a device beneath it and no kind; anything a program made is not', () => {
    assert.deepEqual(nicIdentityOf(VIRTIO), { bus: 'virtio', device: 'virtio2', permanentMac: '02:fc:00:00:00:01' });
    assert.equal(notANic(VIRTIO), undefined);
    assert.equal(notANic(VETH), 'the kernel shows a veth link');
    assert.equal(notANic(MACVLAN), 'the kernel shows a macvlan link');
    assert.equal(notANic(TAP), 'the kernel shows a tun link');
    assert.equal(notANic({ ifname: 'x', address: '02:00:00:00:00:01' }), 'the kernel shows no device beneath it');
  });

  it("a new MAC, name or alias does not change which NIC it is; a veth given the NIC's MAC is still no NIC", () => {
    const identity = nicIdentityOf(VIRTIO)!;
    const renamed = { ...VIRTIO, ifname: 'keepme', ifalias: 'mine', address: '02:00:00:00:00:99', permaddr: VIRTIO.address };
    assert.ok(isNic(renamed, identity));
    assert.ok(!isNic({ ...VETH, ifname: 'eth0', address: VIRTIO.address }, identity));
    assert.ok(!isNic({ ...VIRTIO, parentdev: 'virtio3' }, identity), 'another device on the same bus');
  });
});
