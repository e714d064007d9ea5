import assert from 'node:assert/strict';
import { hasPolicy, isNetdStyle, type PolicyState, policyDefaultInterface, uplinkTable } from '@guestnet/host-agent';

const netd: PolicyState = {
  defaults: [
    { dev: 'rmnet_data0', table: '1002' },
    { dev: 'wlan0', table: '1003' },
  ],
  rules: [
    { priority: 10000, fwmark: '0', fwmask: '0xffff', iif: 'lo', table: '1003' },
    { priority: 21000, iif: 'vm_wlan0', table: '1003' },
  ],
  localNetwork: new Set(['172.17.3.3 vm_wlan0']),
  rules6: [],
  localNetwork6: new Set(),
};
const route = { hostIf: 'vm_wlan0', table: 1003, guestAddress: '172.17.3.3', gateway: '172.17.3.2' };

describe('policy routing model', () => {
  it("tells a netd-style host (defaults only outside main) and finds the uplink's table", () => {
    assert.equal(isNetdStyle(netd), true);
    assert.equal(isNetdStyle({ ...netd, defaults: [...netd.defaults, { dev: 'eth0', table: 'main' }] }), false);
    assert.equal(isNetdStyle({ ...netd, defaults: [] }), false);
    assert.equal(uplinkTable(netd, 'wlan0'), 1003);
    assert.equal(uplinkTable({ ...netd, defaults: [{ dev: 'wlan0', table: 'main' }] }, 'wlan0'), undefined, 'main is no policy table');
    assert.equal(uplinkTable(netd, 'eth0'), undefined);
  });

  it("takes netd's default network for the host's own traffic as the uplink, else the first table with a default", () => {
    assert.equal(policyDefaultInterface(netd), 'wlan0');
    assert.equal(policyDefaultInterface({ ...netd, rules: [] }), 'rmnet_data0');
    assert.equal(policyDefaultInterface({ ...netd, defaults: [{ dev: 'eth0', table: 'main' }] }), undefined);
  });

  it("holds a guest's policy only with its rule at 21000 and its route in table 97, and IPv6's when it has IPv6", () => {
    assert.equal(hasPolicy(netd, route), true);
    assert.equal(hasPolicy({ ...netd, localNetwork: new Set() }, route), false);
    assert.equal(hasPolicy(netd, { ...route, table: 1002 }), false);
    const rule6 = { priority: 21000, iif: 'vm_wlan0', table: '1003' };
    const route6 = { ...route, guestAddress6: 'fd00::ac11:303' };
    assert.equal(hasPolicy(netd, route6), false);
    assert.equal(hasPolicy({ ...netd, rules6: [rule6], localNetwork6: new Set(['fd00::ac11:303 vm_wlan0']) }, route6), true);
  });
});
