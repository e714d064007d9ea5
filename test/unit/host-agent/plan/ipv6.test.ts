import assert from 'node:assert/strict';
import {
  chooseIpv6,
  forCapabilities,
  type GuestRule,
  guestIpv6Of,
  type HostIpv6,
  type HostObserved,
  iptables,
  nftables,
  planAttach,
  planDetach,
  planReconcile,
  resolveSettings,
  ruleOf,
  type Step,
  stepsOf,
} from '@guestnet/host-agent';
import { KernelFeatureError, UplinkNotFoundError, UsageError } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';
import { emptyHost } from './simulate.js';

const POOL6 = 'fd00:1:2:3::/64';
const host6 = (overrides: Partial<HostIpv6> = {}): HostIpv6 => ({
  forwarding: '0',
  before: undefined,
  acceptRa: new Map([
    ['all', '1'],
    ['default', '1'],
    ['lo', '1'],
    ['wlan0', '1'],
    ['eth1', '0'],
    ['vm_wlan1', '1'],
  ]),
  defaults: [{ dst: 'default', dev: 'wlan0' }],
  global: new Set(['wlan0']),
  onLink: [{ dev: 'wlan0', address: '2001:db8:1::2', prefixLength: 64 }],
  proxyNdp: new Map([['wlan0', '0']]),
  proxyNdpBefore: new Map(),
  ndProxies: new Set(),
  ...overrides,
});
const withIpv6 = (pid: number, ipv4: string, hostIf: string) =>
  sampleRecord({ pid, guestAddress: ipv4, hostIf, ipv6: guestIpv6Of(POOL6, ipv4, 'nat', 'wlan0') });
const observed = (ipv6: HostIpv6, records = [] as ReturnType<typeof sampleRecord>[]): HostObserved => ({
  ...emptyHost(),
  ipForward: '1',
  ipv6,
  records,
});

describe('IPv6 for guests: choosing, planning and rules', () => {
  it("a guest's IPv6 address is the pool's prefix with its IPv4 address in the last 32 bits; the gateway is ::1", () => {
    assert.deepEqual(guestIpv6Of(POOL6, '172.17.3.3', 'nat', 'wlan0'), {
      mode: 'nat',
      hostAddress: 'fd00:1:2:3::1',
      guestAddress: 'fd00:1:2:3::ac11:303',
      prefixLength: 64,
      uplink: 'wlan0',
    });
  });

  it('auto gives nat where the IPv6 uplink has a global address, and IPv4 only elsewhere', () => {
    assert.equal(chooseIpv6(host6(), 'auto', POOL6, '172.17.3.3')?.mode, 'nat');
    assert.equal(chooseIpv6(host6({ global: new Set() }), 'auto', POOL6, '172.17.3.3'), undefined);
    assert.equal(chooseIpv6(host6({ defaults: [] }), 'auto', POOL6, '172.17.3.3'), undefined);
    assert.equal(chooseIpv6(host6({ forwarding: undefined }), 'auto', POOL6, '172.17.3.3'), undefined);
    assert.equal(chooseIpv6(host6(), 'off', POOL6, '172.17.3.3'), undefined);
  });

  it('nat or routed where they cannot work is refused with its own error', () => {
    assert.throws(() => chooseIpv6(host6({ forwarding: undefined }), 'nat', POOL6, '172.17.3.3'), KernelFeatureError);
    assert.throws(() => chooseIpv6(host6({ defaults: [] }), 'routed', POOL6, '172.17.3.3'), UplinkNotFoundError);
  });

  it('routed inside a prefix on-link on the uplink gets the neighbour proxy; a prefix routed to the host does not', () => {
    assert.equal(chooseIpv6(host6(), 'routed', '2001:db8:1:0:0:1::/96', '172.17.3.3')?.ndProxy, true);
    assert.equal(chooseIpv6(host6(), 'routed', '2001:db8:77::/64', '172.17.3.3')?.ndProxy, undefined);
  });

  it('turns IPv6 forwarding on with the first IPv6 guest, and accept_ra=2 wherever the host takes RAs, guest links aside', () => {
    const guest = withIpv6(100, '172.17.3.3', 'vm_wlan');
    const other = sampleRecord({ pid: 101, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4' });
    const op = planAttach(observed(host6(), [other]), guest).find((o) => o.kind === 'enableIpv6Forwarding');
    assert.deepEqual(op, { kind: 'enableIpv6Forwarding', before: { forwarding: '0', acceptRa: { default: '1', wlan0: '1' } } });
    assert.equal(
      planAttach(observed(host6({ forwarding: '1' })), guest).some((o) => o.kind === 'enableIpv6Forwarding'),
      false,
    );
  });

  it('accept_ra goes to 2 before forwarding goes on, and back only after it goes off', () => {
    const before = { forwarding: '0', acceptRa: { wlan0: '1' } };
    const on = stepsOf({ kind: 'enableIpv6Forwarding', before }, { firewall: nftables, stateDir: '/state' });
    assert.deepEqual(
      on.map((s) => (s.kind === 'sysctl' ? `${s.path}=${s.value}` : s.kind)),
      ['write', '/proc/sys/net/ipv6/conf/wlan0/accept_ra=2', '/proc/sys/net/ipv6/conf/all/forwarding=1'],
    );
    const off = stepsOf({ kind: 'restoreIpv6Forwarding', value: before }, { firewall: nftables, stateDir: '/state' });
    assert.deepEqual(
      off.map((s) => (s.kind === 'sysctl' ? `${s.path}=${s.value}` : s.kind)),
      ['/proc/sys/net/ipv6/conf/all/forwarding=0', '/proc/sys/net/ipv6/conf/wlan0/accept_ra=1', 'remove'],
    );
  });

  it('restores forwarding with the last IPv6 guest only', () => {
    const before = { forwarding: '0', acceptRa: { wlan0: '1' } };
    const [a, b] = [withIpv6(100, '172.17.3.3', 'vm_wlan'), withIpv6(101, '172.17.3.4', 'vm_wlan1')] as const;
    const host = host6({ forwarding: '1', before });
    assert.equal(
      planDetach(observed(host, [a, b]), a).some((o) => o.kind === 'restoreIpv6Forwarding'),
      false,
    );
    assert.deepEqual(
      planDetach(observed(host, [a]), a).find((o) => o.kind === 'restoreIpv6Forwarding'),
      { kind: 'restoreIpv6Forwarding', value: before },
    );
  });

  it('the reconcile loop turns forwarding back on, and moves NAT guests to a new IPv6 uplink but not routed ones', () => {
    const nat = withIpv6(100, '172.17.3.3', 'vm_wlan');
    const routed = sampleRecord({
      pid: 101,
      hostIf: 'vm_wlan1',
      guestAddress: '172.17.3.4',
      ipv6: guestIpv6Of('2001:db8:77::/64', '172.17.3.4', 'routed', 'wlan0'),
    });
    const host = {
      ...observed(host6({ defaults: [{ dst: 'default', dev: 'rmnet0' }] }), [nat, routed]),
      links: new Set(['lo', 'wlan0', 'rmnet0', 'vm_wlan', 'vm_wlan1']),
    };
    const ops = planReconcile(host);
    assert.ok(ops.some((o) => o.kind === 'enableIpv6Forwarding'));
    const update = ops.find((o) => o.kind === 'updateRecords');
    assert.deepEqual(
      update?.kind === 'updateRecords' ? update.after.map((r) => [r.id, r.type === 'routed-veth' ? r.ipv6?.uplink : undefined]) : [],
      [['100', 'rmnet0']],
    );
  });

  it('nftables: the first IPv6 guest makes the ip6 table fresh, the last removes it, in the same transaction as IPv4', () => {
    const plain: GuestRule = ruleOf(sampleRecord());
    const dual: GuestRule = ruleOf(withIpv6(100, '172.17.3.3', 'vm_wlan'));
    const [add] = nftables.change(
      { installed: true, bridgedPorts: [], guests: [] },
      { installed: true, bridgedPorts: [], guests: [dual] },
    ) as [Step & { kind: 'run' }];
    assert.match(add.input ?? '', /add table ip6 guestnet\ndelete table ip6 guestnet\ntable ip6 guestnet \{/);
    assert.match(add.input ?? '', /add element ip6 guestnet guest_sources \{ "vm_wlan" \. fd00:1:2:3::ac11:303 \}/);
    assert.match(add.input ?? '', /add element ip6 guestnet masquerade_sources \{ fd00:1:2:3::ac11:303 \. "wlan0" \}/);
    const [remove] = nftables.change(
      { installed: true, bridgedPorts: [], guests: [dual] },
      { installed: true, bridgedPorts: [], guests: [] },
    ) as [Step & { kind: 'run' }];
    assert.match(remove.input ?? '', /add table ip6 guestnet\ndelete table ip6 guestnet/);
    const [v4only] = nftables.change(
      { installed: true, bridgedPorts: [], guests: [] },
      { installed: true, bridgedPorts: [], guests: [plain] },
    ) as [Step & { kind: 'run' }];
    assert.doesNotMatch(v4only.input ?? '', /ip6/);
  });

  it('iptables: ip6tables chains exist while some guest has IPv6, with source validation and NAT66', () => {
    const dual: GuestRule = ruleOf(withIpv6(100, '172.17.3.3', 'vm_wlan'));
    const steps = iptables('iptables').change(
      { installed: false, bridgedPorts: [], guests: [] },
      { installed: true, bridgedPorts: [], guests: [dual] },
    );
    const restore6 = steps.find((s): s is Step & { kind: 'run' } => s.kind === 'run' && s.argv[0] === 'ip6tables-restore');
    assert.ok(restore6, 'no ip6tables-restore');
    const lines = (restore6.input ?? '').split('\n');
    for (const line of [
      '-A GUESTNET-SOURCES -s fd00:1:2:3::ac11:303/128 -i vm_wlan -j RETURN',
      '-A GUESTNET-SOURCES -i vm_wlan+ -j DROP',
      '-A GUESTNET-ANTISPOOF -s fe80::/10 -i vm_wlan+ -p ipv6-icmp -j RETURN',
      '-A GUESTNET-POSTROUTING -s fd00:1:2:3::/64 -o wlan0 -j MASQUERADE',
      '-A GUESTNET-INPUT -i vm_wlan+ -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j GUESTNET-ND',
      '-A GUESTNET-ND -i vm_wlan -m limit --limit 10/sec --limit-burst 20 -j ACCEPT',
    ])
      assert.ok(lines.includes(line), line);
    const v4only = iptables('iptables').change(
      { installed: false, bridgedPorts: [], guests: [] },
      { installed: true, bridgedPorts: [], guests: [ruleOf(sampleRecord())] },
    );
    assert.equal(
      v4only.some((s) => s.kind === 'run' && s.argv[0]?.startsWith('ip6tables')),
      false,
    );
  });

  it('settings: --pool6 is normalised to its network; routed needs it; --ipv6 takes four words', () => {
    const resolve = (flags: Record<string, unknown>) => resolveSettings({}, flags, 'none');
    assert.equal(resolve({ pool6: 'FD00:1:2:3::99/64' }).pool6, 'fd00:1:2:3::/64');
    assert.throws(() => resolve({ pool6: 'fd00::/48' }), /prefix 64 to 96/);
    assert.throws(() => resolve({ ipv6: 'routed' }), UsageError);
    assert.throws(() => resolve({ ipv6: 'yes' }), /auto, off, nat, routed/);
  });

  it('a guest that did not announce IPv6 is configured for IPv4 alone', () => {
    const config = {
      token: 't',
      link: {
        name: 'a',
        rename: 'b',
        mtu: 1500,
        address: '172.17.3.3',
        prefixLength: 16,
        gateway: '172.17.3.2',
        ipv6: { address: 'fd00::3', prefixLength: 64, gateway: 'fd00::1' },
      },
      dns: [],
    };
    assert.equal(forCapabilities(config, ['resolv.conf']).link.ipv6, undefined);
    assert.deepEqual(forCapabilities(config, ['resolv.conf', 'ipv6']), config);
  });
});
