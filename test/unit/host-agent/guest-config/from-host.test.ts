import assert from 'node:assert/strict';
import { configuredAsMadeLines, nftables, type Step, stepsOf } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

// A guest the host configures has its end configured by the process that
// makes it: the guest agent's planner, from the end as just made.

const hostConfigured = sampleRecord({ pid: 4242, guestIf: 'eth0', guestName: 'eth0', guestConfig: 'host' });

describe('host-agent/guest-config/from-host: the lines that configure an end as it was just made', () => {
  it('bring the end up with its address, and route by the host end ahead of any route the guest had, leaving lo alone', () => {
    assert.deepEqual(configuredAsMadeLines(hostConfigured), [
      'address add 172.17.3.3/16 dev eth0',
      'link set dev eth0 up',
      'route prepend default via 172.17.3.2 dev eth0 onlink',
    ]);
  });

  it('rename the end first where the guest is to call it otherwise', () => {
    const [down, rename] = configuredAsMadeLines({ ...hostConfigured, guestName: 'wlan0' });
    assert.deepEqual([down, rename], ['link set dev eth0 down', 'link set dev eth0 name wlan0']);
  });

  it('are none for a guest whose agent or DHCP client configures it, or that has IPv6 (left to the look that follows)', () => {
    const ipv6 = { mode: 'nat' as const, hostAddress: 'fd00:1::1', guestAddress: 'fd00:1::ac11:303', prefixLength: 64, uplink: 'wlan0' };
    for (const record of [
      sampleRecord({ guestIf: 'eth0' }),
      sampleRecord({ guestIf: 'eth0', guestConfig: 'dhcp' }),
      { ...hostConfigured, ipv6 },
    ]) {
      assert.deepEqual(configuredAsMadeLines(record), []);
    }
  });

  it('end the batch that makes the pair in the guest, after the alias', () => {
    const [made] = stepsOf({ kind: 'createVeth', record: hostConfigured }, { firewall: nftables, stateDir: '/s' }) as Array<
      Step & { kind: 'run' }
    >;
    assert.match(
      made?.input ?? '',
      /\nlink set dev eth0 alias \S+\naddress add [\s\S]*\nroute prepend default via 172\.17\.3\.2 dev eth0 onlink\n$/,
    );
  });
});
