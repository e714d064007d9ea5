import assert from 'node:assert/strict';
import { isNic, nicIdentityOf, notANic } from '@guestnet/host-agent';
import { MACVLAN, TAP, VETH, VIRTIO } from '../../../fixtures/ip-links.js';

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
