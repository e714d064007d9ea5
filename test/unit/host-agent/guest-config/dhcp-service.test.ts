import assert from 'node:assert/strict';
import { type AttachmentRecord, dhcpGuestOf, GuestDhcp, type RecordChange } from '@guestnet/host-agent';
import { GuestTimeoutError } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';

/** The daemon's record store as GuestDhcp sees it: what it holds, and its changes. */
class FakeStore {
  private readonly listeners: Array<(change: RecordChange) => void> = [];
  constructor(private records: AttachmentRecord[] = []) {}
  all = () => this.records;
  onChange = (listener: (change: RecordChange) => void) => {
    this.listeners.push(listener);
    return () => {};
  };
  set(id: string, after: AttachmentRecord | undefined): void {
    const before = this.records.find((r) => r.id === id);
    this.records = [...this.records.filter((r) => r.id !== id), ...(after ? [after] : [])];
    for (const listener of this.listeners) listener({ id, before, after });
  }
}

const dhcpRecord = sampleRecord({ pid: 4242, dns: ['172.17.3.2'], guestConfig: 'dhcp' });
const agentRecord = sampleRecord({ pid: 4243, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4', guestMac: '02:67:6e:11:03:04' });

describe('the DHCP service', () => {
  it('sees a record as the server does: its link, MAC, lease, gateway as router and IPv4 resolvers only', () => {
    const guest = dhcpGuestOf({ ...dhcpRecord, dns: ['172.17.3.2', '2001:db8::53'] });
    assert.deepEqual(guest, {
      link: 'vm_wlan',
      mac: dhcpRecord.guestMac,
      address: dhcpRecord.guestAddress,
      prefixLength: dhcpRecord.prefixLength,
      gateway: dhcpRecord.hostAddress,
      mtu: dhcpRecord.mtu,
      dns: ['172.17.3.2'],
    });
  });

  it("answers exactly the record store's dhcp guests: those it holds, those written later, none once removed", () => {
    const store = new FakeStore([dhcpRecord, agentRecord]);
    const dhcp = new GuestDhcp(store, () => {});
    assert.equal(dhcp.guestOf(dhcpRecord.guestMac)?.address, dhcpRecord.guestAddress);
    assert.equal(dhcp.guestOf(agentRecord.guestMac), undefined, 'an agent guest is not a DHCP client of ours');
    // A record rewritten (a new MTU from the uplink) is answered with what it says now.
    store.set(dhcpRecord.id, { ...dhcpRecord, mtu: 1280 });
    assert.equal(dhcp.guestOf(dhcpRecord.guestMac)?.mtu, 1280);
    store.set(dhcpRecord.id, undefined);
    assert.equal(dhcp.guestOf(dhcpRecord.guestMac), undefined, 'a detached guest is answered no more');
    // A guest attached later is known from its record's first write, an upper-case MAC by its lower case.
    const later = sampleRecord({
      pid: 4244,
      hostIf: 'vm_wlan2',
      guestAddress: '172.17.3.5',
      guestMac: '02:67:6E:11:03:05',
      guestConfig: 'dhcp',
    });
    store.set(later.id, later);
    assert.equal(dhcp.guestOf('02:67:6e:11:03:05')?.link, 'vm_wlan2');
  });

  it("says a dhcp guest that never asked has no lease state yet, and nothing of other guests' leases", () => {
    const dhcp = new GuestDhcp(new FakeStore([dhcpRecord, agentRecord]), () => {});
    assert.deepEqual(dhcp.leaseOf(dhcpRecord), { state: 'none', address: dhcpRecord.guestAddress });
    assert.equal(dhcp.leaseOf(agentRecord), undefined);
  });

  it('a wait for a lease that never comes times out with the agent path’s error, and a hang-up ends it at once', async () => {
    const dhcp = new GuestDhcp(new FakeStore([dhcpRecord]), () => {});
    await assert.rejects(
      dhcp.waitForLease(dhcpRecord, 5, new AbortController().signal, () => new Error('hung up')),
      (e: Error) => e instanceof GuestTimeoutError && /took no lease within 5 ms; the host side was rolled back/.test(e.message),
    );
    const abort = new AbortController();
    const waiting = dhcp.waitForLease(dhcpRecord, 60_000, abort.signal, () => new Error('hung up'));
    abort.abort();
    await assert.rejects(waiting, /hung up/);
  });
});
