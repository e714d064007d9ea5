import assert from 'node:assert/strict';
import { allocate, guestMac, resolveSettings } from '@guestnet/host-agent';
import { NameTakenError } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedRecord } from '../../../fixtures/typed-records.js';
import { emptyHost } from './simulate.js';

const defaults = resolveSettings({}, {}, 'none');

describe('lease allocation', () => {
  it("gives the first guest the design's vm_wlan and 172.17.3.3", () => {
    assert.deepEqual(allocate(emptyHost(), defaults, '100'), { hostIf: 'vm_wlan', guestAddress: '172.17.3.3' });
  });

  it('gives the next guests the next free name and address', () => {
    const host = { ...emptyHost(), records: [sampleRecord()], links: new Set(['wlan0', 'vm_wlan']) };
    assert.deepEqual(allocate(host, defaults, '200'), { hostIf: 'vm_wlan1', guestAddress: '172.17.3.4' });
  });

  it('keeps an existing lease for the same pid', () => {
    const host = { ...emptyHost(), records: [sampleRecord({ pid: 7, hostIf: 'vm_wlan5', guestAddress: '172.17.9.9' })] };
    assert.deepEqual(allocate(host, defaults, '7'), { hostIf: 'vm_wlan5', guestAddress: '172.17.9.9' });
  });

  it('lets a guest with no host end of its own (macvlan) name its own address again on a re-attach, and refuses it to others', () => {
    const macvlan = joinedRecord({ type: 'macvlan', guestAddress: '172.17.3.9' });
    const settings = resolveSettings({ guestAddress: '172.17.3.9' }, {}, 'none');
    const host = { ...emptyHost(), records: [macvlan] };
    assert.equal(allocate(host, settings, '300').guestAddress, '172.17.3.9');
    assert.throws(() => allocate(host, settings, '301'), /172\.17\.3\.9 is already leased/);
  });

  it('reuses freed names and addresses, lowest first', () => {
    const records = [sampleRecord({ pid: 1 }), sampleRecord({ pid: 3, hostIf: 'vm_wlan2', guestAddress: '172.17.3.5' })];
    const host = { ...emptyHost(), records, links: new Set(['wlan0', 'vm_wlan', 'vm_wlan2']) };
    assert.deepEqual(allocate(host, defaults, '9'), { hostIf: 'vm_wlan1', guestAddress: '172.17.3.4' });
  });

  it("skips names the host already uses and addresses inside the host's own routes", () => {
    const host = {
      ...emptyHost(),
      links: new Set(['wlan0', 'vm_wlan']),
      routes: [...emptyHost().routes, { dst: '172.17.3.0/30', dev: 'eth1' }, { dst: '172.17.3.4', dev: 'eth2' }],
    };
    assert.deepEqual(allocate(host, defaults, '5'), { hostIf: 'vm_wlan1', guestAddress: '172.17.3.5' });
  });

  it('refuses a pool that a host route covers, naming the route', () => {
    const host = { ...emptyHost(), routes: [{ dst: '172.17.0.0/16', dev: 'docker0' }] };
    assert.throws(
      () => allocate(host, defaults, '5'),
      (e: Error) => e instanceof NameTakenError && /172\.17\.0\.0\/16 overlaps it; choose another pool/.test(e.message),
    );
  });

  it('wraps around the pool and reports exhaustion', () => {
    const small = resolveSettings({ pool: '10.9.0.0/29', gateway: '10.9.0.5' }, {}, 'none');
    const records = [6, 1, 2, 3].map((n, i) => sampleRecord({ pid: i + 1, hostIf: `g${i}`, guestAddress: `10.9.0.${n}` }));
    assert.deepEqual(allocate({ ...emptyHost(), records }, small, '50').guestAddress, '10.9.0.4');
    const full = [...records, sampleRecord({ pid: 9, hostIf: 'g9', guestAddress: '10.9.0.4' })];
    assert.throws(() => allocate({ ...emptyHost(), records: full }, small, '50'), /no free address left in 10\.9\.0\.0\/29/);
  });

  it('derives a stable, locally administered MAC from the address', () => {
    assert.equal(guestMac('172.17.3.3'), '02:67:6e:11:03:03');
  });
});
