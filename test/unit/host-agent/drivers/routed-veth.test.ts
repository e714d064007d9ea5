import assert from 'node:assert/strict';
import { driverFor, type RoutedVethRecord } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';
import { emptyHost, simulate } from '../plan/simulate.js';

// The routed veth's driver hands its plans to the planner: attach and detach
// through it leave the host as it found it.

const routed = driverFor('routed-veth');
const record = sampleRecord() as RoutedVethRecord;

describe('drivers/routed-veth: the routed NAT veth', () => {
  it('detaches to the host it attached on: links, records, rules and forwarding as before', () => {
    const before = emptyHost();
    const attached = simulate(before, routed.planAttach(before, record, undefined, {}));
    assert.ok(attached.host.links.has('vm_wlan'));
    const detached = simulate(attached.host, routed.planDetach(attached.host, record), attached.rules);
    assert.deepEqual([...detached.host.links], [...before.links]);
    assert.deepEqual(detached.host.records, []);
    assert.deepEqual(detached.rules, []);
    assert.equal(detached.host.ipForward, before.ipForward);
  });

  it('plans nothing for a guest attached as it wants', () => {
    const before = emptyHost();
    const { host } = simulate(before, routed.planAttach(before, record, undefined, {}));
    assert.deepEqual(routed.planAttach(host, record, record, {}), []);
  });
});
