import assert from 'node:assert/strict';
import { guestAddressOf, guestEndShown, guestLabel, hostEndOf, hostLinkAlias, ID_PATTERN } from '@guestnet/host-agent';
import { sampleRecord, typedRecord } from '../../../fixtures/records.js';

// The record's vocabulary: how a guest is named, which ids are safe as file
// names, which links and addresses a record holds, and that a one-time name
// (a secret) is never shown.

describe('model/record: what every record says', () => {
  it('names a process guest by its pid and a CNI container by the first 12 characters of its id', () => {
    assert.equal(guestLabel({ pid: 4242 }), 'pid 4242');
    assert.equal(guestLabel({ cni: { containerId: 'f'.repeat(64), ifname: 'eth0' } }), `container ${'f'.repeat(12)}`);
  });

  it('takes as an id only what is safe as a file name in the state dir', () => {
    for (const id of ['4242', 'cni-0123abcd-eth0', 'cni-my_box.1-net1']) assert.match(id, ID_PATTERN);
    for (const id of ['', '../etc/passwd', 'a/b', '.hidden', '-rf', 'a b', 'x'.repeat(202), 'a\nb'])
      assert.doesNotMatch(id, ID_PATTERN, id);
  });

  it('gives each guest its own host link alias, so a link another guest or the host named alike is never taken for its own', () => {
    assert.equal(hostLinkAlias({ id: '300' }), 'guestnet-host:300');
    assert.notEqual(hostLinkAlias({ id: '30' }), hostLinkAlias({ id: '300' }));
  });

  it('never shows a one-time guest end name, which is a token; any other name shows as it is', () => {
    assert.equal(guestEndShown({ guestIf: 'gnabcdefghjkmnp' }), '<one-time-name>');
    assert.equal(guestEndShown({ guestIf: 'vm_wlan0' }), 'vm_wlan0');
  });

  it('has a host end for veths only, and a chosen address for guests with a static link only', () => {
    const routed = sampleRecord();
    const bridged = typedRecord({ type: 'veth', link: 'br0', hostIf: 'vm_br' });
    const dhcp = typedRecord({ type: 'macvlan', link: 'eth1', macvlanMode: 'bridge', dhcp: true });
    const empty = typedRecord({ type: 'empty' });
    assert.deepEqual(
      [hostEndOf(routed), hostEndOf(bridged), hostEndOf(dhcp), hostEndOf(empty)],
      ['vm_wlan', 'vm_br', undefined, undefined],
    );
    assert.deepEqual([guestAddressOf(routed), guestAddressOf(dhcp), guestAddressOf(empty)], ['172.17.3.3', undefined, undefined]);
  });
});
