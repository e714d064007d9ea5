import assert from 'node:assert/strict';
import { locateNic, nicIdentityOf, type PhysRecord, physState, RecordingRunner } from '@guestnet/host-agent';
import { VETH, VIRTIO } from '../../../fixtures/ip-links.js';
import { typedRecord } from '../../../fixtures/records.js';

describe('phys NICs on the host and in a guest: reading them with ip', () => {
  it("attach records the NIC with its state, from one ip process of every link's details (a daemon remembers it)", async () => {
    const shown = [
      { ...VETH, addr_info: [] },
      { ...VIRTIO, ifalias: 'lan', addr_info: [{ family: 'inet', local: '192.168.77.10', prefixlen: 24, scope: 'global' }] },
    ];
    const runner = new RecordingRunner({ 'ip -d -j address show': JSON.stringify(shown) });
    assert.deepEqual(await physState(runner, 'eth0'), {
      before: { addresses: ['192.168.77.10/24'], up: true, mtu: 1400, alias: 'lan', nic: nicIdentityOf(VIRTIO) },
      notNic: undefined,
    });
    assert.equal(runner.processes, 1);
    assert.equal((await physState(runner, VETH.ifname))?.notNic, 'the kernel shows a veth link');
    assert.equal(await physState(runner, 'eth9'), undefined, 'a link the host lacks');
  });

  it('detach finds the NIC in the guest whatever its name, and on the host only under the passing name or with our mark', async () => {
    const record = typedRecord<PhysRecord>({
      pid: 300,
      type: 'phys',
      link: 'eth0',
      phys: { addresses: [], up: true, mtu: 1400, alias: '', nic: nicIdentityOf(VIRTIO)! },
    });
    const guestArgv = 'nsenter --net=/proc/300/ns/net ip -d -j link show';
    const look = (host: unknown[], guest: unknown[] | undefined) =>
      locateNic(
        new RecordingRunner({ 'ip -d -j link show': JSON.stringify(host), ...(guest ? { [guestArgv]: JSON.stringify(guest) } : {}) }),
        record,
        {
          guestAlive: true,
          passing: 'gnpassing',
        },
      );
    const planted = { ...VETH, ifname: 'vm_wlan0', address: VIRTIO.address };
    assert.deepEqual(await look([], [planted, { ...VIRTIO, ifname: 'keepme', ifalias: 'mine' }]), { guestAlive: true, inGuest: 'keepme' });
    assert.deepEqual(await look([], [planted]), { guestAlive: true });
    assert.deepEqual(await look([{ ...planted, ifname: 'gnpassing' }], [VIRTIO]), {
      guestAlive: true,
      inGuest: 'eth0',
      impostor: 'gnpassing',
    });
    assert.deepEqual(await look([{ ...VIRTIO, ifname: 'gnpassing', ifalias: 'mine' }], [planted]), {
      guestAlive: true,
      onHost: 'gnpassing',
    });
    assert.deepEqual(await look([{ ...VIRTIO, ifname: 'dev7', ifalias: record.token }], undefined), { guestAlive: false, onHost: 'dev7' });
    assert.deepEqual(
      await look([{ ...VIRTIO, ifname: 'eth0', ifalias: 'gnpassing' }], [planted]),
      { guestAlive: true, onHost: 'eth0' },
      "a restore cut short after its rename: found by the fetch's mark, the passing name",
    );
    assert.deepEqual(await look([{ ...VIRTIO, ifname: 'eth0' }], undefined), { guestAlive: false }, 'the same NIC, never lent: not ours');
    assert.deepEqual(await look([], [{ ...VIRTIO, ifname: 'a#b' }]), { guestAlive: true, inGuest: 'a#b' });
  });
});
