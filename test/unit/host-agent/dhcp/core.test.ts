import assert from 'node:assert/strict';
import {
  DHCP_MAX_KEYS,
  DHCP_REQUEST_BURST,
  type DhcpGuest,
  DhcpMessageType,
  DhcpOption,
  type DhcpOutcome,
  DhcpServerCore,
  OFFER_HOLD_MS,
  parseDhcpMessage,
  parseDhcpRequest,
} from '@guestnet/host-agent';
import { addressOption, GUEST, request, seeded, withType } from './packets.js';

const OTHER: DhcpGuest = { ...GUEST, link: 'vm_wlan1', mac: '02:67:6e:11:03:04', address: '172.17.3.4' };
const LEASE_SECONDS = 600;
const T0 = 1_000_000;

function server(guests: DhcpGuest[] = [GUEST, OTHER]): DhcpServerCore {
  const byMac = new Map(guests.map((guest) => [guest.mac, guest]));
  return new DhcpServerCore((mac) => byMac.get(mac), { leaseSeconds: LEASE_SECONDS });
}

/** Handles a request built from `fields`, from `source`, at `now`. */
const send = (
  core: DhcpServerCore,
  options: number[],
  more: Parameters<typeof request>[0] = {},
  source = '0.0.0.0',
  now = T0,
): DhcpOutcome => core.handle(parseDhcpRequest(request({ ...more, options })), source, now);

const replyOf = (outcome: DhcpOutcome) => {
  assert.ok(outcome.reply, JSON.stringify(outcome.event));
  return parseDhcpMessage(outcome.reply.packet);
};

const SELECT = withType(3, ...addressOption(50, GUEST.address), ...addressOption(54, GUEST.gateway));

describe('DHCP server core', () => {
  it('offers the guest its own address, with router, DNS, mask, MTU and lease times, to its address on its link', () => {
    const core = server();
    const outcome = send(core, withType(1));
    assert.deepEqual(outcome.event, { kind: 'offer', mac: GUEST.mac, link: GUEST.link, address: GUEST.address });
    assert.deepEqual({ ...outcome.reply, packet: undefined }, { packet: undefined, address: GUEST.address, port: 68, link: GUEST.link });
    const offer = replyOf(outcome);
    assert.equal(offer.type, DhcpMessageType.offer);
    assert.equal(offer.yiaddr, GUEST.address);
    const option = (code: number) => [...(offer.options.get(code) ?? [])];
    assert.deepEqual(option(DhcpOption.subnetMask), [255, 255, 0, 0]);
    assert.deepEqual(option(DhcpOption.router), [172, 17, 3, 2]);
    assert.deepEqual(option(DhcpOption.dnsServers), [172, 17, 3, 2]);
    assert.deepEqual(option(DhcpOption.serverId), [172, 17, 3, 2]);
    assert.deepEqual(option(DhcpOption.interfaceMtu), [1400 >> 8, 1400 & 255]);
    assert.equal(offer.options.get(DhcpOption.leaseTime)?.readUInt32BE(), LEASE_SECONDS);
    assert.equal(offer.options.get(DhcpOption.renewalTime)?.readUInt32BE(), LEASE_SECONDS / 2);
    assert.equal(offer.options.get(DhcpOption.rebindingTime)?.readUInt32BE(), (LEASE_SECONDS * 7) / 8);
    assert.deepEqual(core.leaseOf(GUEST.link), { state: 'offered', address: GUEST.address, xid: 0x1234abcd, until: T0 + OFFER_HOLD_MS });
  });

  it('ACKs the REQUEST that takes the offer, and binds the lease for its time', () => {
    const core = server();
    send(core, withType(1));
    const outcome = send(core, SELECT, {}, '0.0.0.0', T0 + 10);
    assert.equal(outcome.event.kind, 'ack');
    assert.equal(replyOf(outcome).type, DhcpMessageType.ack);
    assert.equal(replyOf(outcome).yiaddr, GUEST.address);
    assert.equal(core.leaseOf(GUEST.link)?.state, 'bound');
    assert.equal(core.leaseOf(GUEST.link)?.until, T0 + 10 + LEASE_SECONDS * 1000);
  });

  it('renews (unicast from its address) and rebinds (broadcast) a bound lease; INIT-REBOOT of its address is ACKed', () => {
    const core = server();
    send(core, SELECT);
    const renew = send(core, withType(3), { ciaddr: GUEST.address }, GUEST.address, T0 + 300_000);
    assert.equal(renew.event.kind, 'renew');
    assert.equal(replyOf(renew).ciaddr, GUEST.address);
    assert.equal(send(core, withType(3), { ciaddr: GUEST.address, flags: 0x8000 }, '0.0.0.0', T0 + 500_000).event.kind, 'renew');
    // After a daemon restart the lease is known again from the request alone: it is the guest's address.
    assert.equal(send(server(), withType(3, ...addressOption(50, GUEST.address))).event.kind, 'ack');
  });

  it("NAKs a request for any other address, to the guest's own address, and forgets its lease", () => {
    const core = server();
    send(core, SELECT);
    for (const options of [withType(3, ...addressOption(50, OTHER.address)), withType(3, ...addressOption(50, '192.0.2.1'))]) {
      const outcome = send(core, options);
      assert.equal(outcome.event.kind, 'nak');
      assert.equal(outcome.reply?.address, GUEST.address);
      assert.equal(replyOf(outcome).yiaddr, '0.0.0.0');
      assert.equal(core.leaseOf(GUEST.link), undefined);
    }
    // A ciaddr elsewhere, say on the uplink's network, never becomes a destination.
    assert.equal(send(core, withType(3), { ciaddr: '198.51.100.7' }).reply?.address, GUEST.address);
  });

  it('withdraws its offer, silently, when the client takes another server', () => {
    const core = server();
    send(core, withType(1));
    const outcome = send(core, withType(3, ...addressOption(50, GUEST.address), ...addressOption(54, '192.0.2.67')));
    assert.equal(outcome.reply, undefined);
    assert.equal(core.leaseOf(GUEST.link), undefined);
  });

  it('RELEASE and DECLINE of its own address end the lease, without a reply; of another address they change nothing', () => {
    const core = server();
    send(core, SELECT);
    assert.equal(send(core, withType(7), { ciaddr: OTHER.address }, OTHER.address).event.kind, 'drop');
    assert.equal(send(core, withType(7), { ciaddr: OTHER.address }).event.drop, 'refused');
    assert.equal(core.leaseOf(GUEST.link)?.state, 'bound');
    const released = send(core, withType(7, ...addressOption(54, GUEST.gateway)), { ciaddr: GUEST.address }, GUEST.address);
    assert.deepEqual([released.event.kind, released.reply], ['release', undefined]);
    assert.equal(core.leaseOf(GUEST.link), undefined);
    send(core, SELECT);
    const declined = send(core, withType(4, ...addressOption(50, GUEST.address), ...addressOption(54, GUEST.gateway)));
    assert.deepEqual([declined.event.kind, declined.reply], ['decline', undefined]);
    assert.equal(core.leaseOf(GUEST.link), undefined);
  });

  it('answers INFORM from its address with the configuration and no lease', () => {
    const core = server();
    const outcome = send(core, withType(8), { ciaddr: GUEST.address }, GUEST.address);
    assert.equal(outcome.event.kind, 'inform');
    const ack = replyOf(outcome);
    assert.equal(ack.type, DhcpMessageType.ack);
    assert.equal(ack.yiaddr, '0.0.0.0');
    assert.equal(ack.options.has(DhcpOption.leaseTime), false);
    assert.deepEqual([...(ack.options.get(DhcpOption.router) ?? [])], [172, 17, 3, 2]);
    assert.equal(send(core, withType(8), { ciaddr: '172.17.3.9' }).event.drop, 'refused');
    assert.equal(core.leaseOf(GUEST.link), undefined);
  });

  it("drops, with no state, a MAC no guest link has, and a request sent from an address not the guest's", () => {
    const core = server();
    assert.equal(send(core, withType(1), { chaddr: '02:00:00:00:00:99' }).event.drop, 'unknown');
    assert.equal(send(core, withType(1), {}, OTHER.address).event.drop, 'source');
    assert.deepEqual(core.size, { leases: 0, rateBuckets: 0 });
  });

  it('allows each guest link a burst, then its rate; another link keeps its own', () => {
    const core = server();
    const kinds = Array.from({ length: DHCP_REQUEST_BURST + 5 }, () => send(core, withType(1)).event.kind);
    assert.equal(kinds.filter((kind) => kind === 'offer').length, DHCP_REQUEST_BURST);
    assert.equal(send(core, withType(1), { chaddr: OTHER.mac }).event.kind, 'offer');
    assert.equal(send(core, withType(1), {}, '0.0.0.0', T0 + 1000).event.kind, 'offer', 'a second later the bucket has refilled');
  });

  it('forgets offers not taken and leases run out', () => {
    const core = server();
    send(core, withType(1));
    send(core, withType(3, ...addressOption(50, OTHER.address), ...addressOption(54, GUEST.gateway)), { chaddr: OTHER.mac });
    core.sweep(T0 + OFFER_HOLD_MS);
    assert.deepEqual([core.leaseOf(GUEST.link), core.leaseOf(OTHER.link)?.state], [undefined, 'bound']);
    core.sweep(T0 + LEASE_SECONDS * 1000);
    assert.equal(core.size.leases, 0);
  });

  it('whatever a request says, a reply goes only to the address of the guest its MAC names, on port 68', () => {
    const random = seeded(2131);
    const core = server();
    const addresses = [GUEST.address, OTHER.address, '0.0.0.0', '198.51.100.1', '255.255.255.255', '172.17.3.2'];
    const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)] as T;
    for (let i = 0; i < 5000; i++) {
      const guest = pick([GUEST, OTHER]);
      const options = withType(
        pick([1, 3, 4, 7, 8]),
        ...addressOption(50, pick(addresses)),
        ...(random() < 0.5 ? addressOption(54, pick(addresses)) : []),
      );
      const outcome = send(
        core,
        options,
        { chaddr: guest.mac, ciaddr: pick(addresses), flags: random() < 0.5 ? 0x8000 : 0 },
        pick(addresses),
        T0 + i * 1000,
      );
      if (outcome.reply) assert.deepEqual([outcome.reply.address, outcome.reply.port, outcome.reply.link], [guest.address, 68, guest.link]);
    }
  });

  it('holds at most a bounded number of links, even if the lookup knew any MAC', () => {
    const core = new DhcpServerCore((mac) => ({ ...GUEST, mac, link: mac }), { leaseSeconds: LEASE_SECONDS });
    for (let i = 0; i < DHCP_MAX_KEYS + 500; i++) {
      const mac = `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      send(core, withType(1), { chaddr: mac });
    }
    assert.deepEqual(core.size, { leases: DHCP_MAX_KEYS, rateBuckets: DHCP_MAX_KEYS });
  });
});
