import assert from 'node:assert/strict';
import { guestIpv6Of, nftables, stepsOf } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

const POOL6 = 'fd00:1:2:3::/64';
const IPV6 = guestIpv6Of(POOL6, '172.17.3.3', 'nat', 'wlan0');
const withIpv6 = () => ({ ...sampleRecord({ ipv6Auto: { pool6: POOL6 } }), ipv6: IPV6 });

describe('the steps of a guest IPv6 gained or lost on its host end', () => {
  it("the host end's steps: IPv6 on, then the gateway and the route; off again takes them; on netd hosts the rule and table 97 too", () => {
    const ctx = { firewall: nftables, stateDir: '/state' };
    const guest = withIpv6();
    const [on, batch] = stepsOf({ kind: 'addGuestIpv6', record: guest, ipv6: guest.ipv6 }, ctx);
    assert.deepEqual(on, { kind: 'sysctl', path: '/proc/sys/net/ipv6/conf/vm_wlan/disable_ipv6', value: '0', ifPresent: true });
    assert.equal(
      batch?.kind === 'run' && batch.input,
      'address replace fd00:1:2:3::1/128 dev vm_wlan nodad\nroute replace fd00:1:2:3::ac11:303/128 dev vm_wlan\n',
    );
    assert.deepEqual(stepsOf({ kind: 'removeGuestIpv6', record: guest, ipv6: guest.ipv6 }, ctx), [{ ...on, value: '1' }]);
    const netd = { ...guest, policyTable: 1001 };
    const netdSteps = stepsOf({ kind: 'addGuestIpv6', record: netd, ipv6: netd.ipv6 }, ctx);
    assert.match(
      netdSteps.map((s) => (s.kind === 'run' ? (s.input ?? s.argv.join(' ')) : '')).join('\n'),
      /rule add priority 21000 iif vm_wlan lookup 1001\nroute replace fd00:1:2:3::ac11:303\/128 dev vm_wlan table 97/,
    );
    const removed = stepsOf({ kind: 'removeGuestIpv6', record: netd, ipv6: netd.ipv6 }, ctx);
    assert.deepEqual(
      removed.map((s) => (s.kind === 'run' ? s.argv.join(' ') : `${s.kind} ${s.kind === 'sysctl' ? s.value : ''}`)),
      ['ip -6 rule del priority 21000 iif vm_wlan', 'ip -6 route del fd00:1:2:3::ac11:303/128 dev vm_wlan table 97', 'sysctl 1'],
    );
  });
});
