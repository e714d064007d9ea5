import assert from 'node:assert/strict';
import { type AttachmentRecord, type BridgedVethRecord, describeHost } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedOfEachType, joinedRecord } from '../../../fixtures/typed-records.js';

// The host side in words, as an attach's report gives it: the routed veth's
// end, addresses, uplink and firewall; for the types that join a network,
// that guestnet adds no NAT, and whether a bridged port is locked.

const shown = ({ token: _, ...record }: AttachmentRecord) => record;

describe('model/host-description: the host side of an attach in words', () => {
  it('names the routed host end, both addresses, the uplink and the firewall', () => {
    assert.equal(describeHost(shown(sampleRecord()), 'nftables'), 'vm_wlan 172.17.3.2 peer 172.17.3.3, uplink wlan0, firewall nftables');
  });

  it('says of every type that joins a network that guestnet adds no NAT, naming its type and link', () => {
    assert.deepEqual(
      joinedOfEachType().map((r) => describeHost(shown(r), 'nftables')),
      [
        "veth on bridge br0, port vm_br; no NAT and no rules of guestnet's",
        "macvlan on eth1; no NAT and no rules of guestnet's",
        "ipvlan on eth1; no NAT and no rules of guestnet's",
        "vlan 7 on eth1; no NAT and no rules of guestnet's",
        "phys on eth2; no NAT and no rules of guestnet's",
        "empty; no NAT and no rules of guestnet's",
        "none; no NAT and no rules of guestnet's",
      ],
    );
  });

  it("says whether a bridged guest's port is locked, and which chains let it through with iptables", () => {
    const locked = joinedRecord<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_br', portSecurity: true });
    const open = joinedRecord<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_br' });
    assert.equal(describeHost(shown(locked), 'nftables'), 'veth on bridge br0, port vm_br; no NAT; the port is locked to the guest');
    assert.equal(describeHost(shown(open), 'nftables'), "veth on bridge br0, port vm_br; no NAT and no rules of guestnet's");
    assert.equal(
      describeHost(shown(open), 'iptables'),
      "veth on bridge br0, port vm_br; no NAT; the port let through guestnet's iptables chains",
    );
  });
});
