import assert from 'node:assert/strict';
import {
  type RoutedVethRecord,
  guestIpv6Of,
  type HostIpv6,
  type HostObserved,
  mayMoveIpv6,
  planIpv6Follow,
  ruleOf,
  undoOf,
} from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';
import { emptyHost } from './simulate.js';

const POOL6 = 'fd00:1:2:3::/64';
const BEFORE = { forwarding: '0', acceptRa: { wlan0: '1' } };
const hostWithIpv6 = (overrides: Partial<HostIpv6> = {}): HostIpv6 => ({
  forwarding: '0',
  before: undefined,
  acceptRa: new Map([
    ['all', '1'],
    ['wlan0', '1'],
  ]),
  defaults: [{ dst: 'default', dev: 'wlan0' }],
  global: new Set(['wlan0']),
  onLink: [{ dev: 'wlan0', address: '2001:db8:1::2', prefixLength: 64 }],
  proxyNdp: new Map(),
  proxyNdpBefore: new Map(),
  ndProxies: new Set(),
  ...overrides,
});
/** The same host after the uplink lost its IPv6: no default route, no global address, forwarding as a gain left it. */
const hostWithout = (): HostIpv6 => hostWithIpv6({ defaults: [], global: new Set(), onLink: [], forwarding: '1', before: BEFORE });
const auto = (overrides: Partial<RoutedVethRecord> = {}) => sampleRecord({ ipv6Auto: { pool6: POOL6 }, ...overrides });
const withIpv6 = (record: RoutedVethRecord) => ({ ...record, ipv6: guestIpv6Of(POOL6, record.guestAddress, 'nat', 'wlan0') });
const observed = (ipv6: HostIpv6 | undefined, records: RoutedVethRecord[]): HostObserved => ({
  ...emptyHost(),
  links: new Set(['wlan0', ...records.map((r) => r.hostIf)]),
  ipForward: '1',
  ...(ipv6 ? { ipv6 } : {}),
  records,
});

describe('IPv6 follows the uplink: planIpv6Follow', () => {
  it('gives an auto guest IPv6 once the uplink has a default route and a global address: record, forwarding, host end, rules', () => {
    const guest = auto();
    const gained = withIpv6(guest);
    assert.deepEqual(planIpv6Follow(observed(hostWithIpv6(), [guest])), [
      { kind: 'updateRecords', before: [guest], after: [gained] },
      { kind: 'enableIpv6Forwarding', before: BEFORE },
      { kind: 'addGuestIpv6', record: gained, ipv6: gained.ipv6 },
      {
        kind: 'setGuestRules',
        before: { installed: true, bridgedPorts: [], guests: [ruleOf(guest)] },
        after: { installed: true, bridgedPorts: [], guests: [ruleOf(gained)] },
      },
    ]);
  });

  it('takes it back once the uplink has lost it, mirroring the gain, and turns forwarding back as the last one loses it', () => {
    const guest = withIpv6(auto());
    assert.deepEqual(planIpv6Follow(observed(hostWithout(), [guest])), [
      {
        kind: 'setGuestRules',
        before: { installed: true, bridgedPorts: [], guests: [ruleOf(guest)] },
        after: { installed: true, bridgedPorts: [], guests: [ruleOf(auto())] },
      },
      { kind: 'removeGuestIpv6', record: guest, ipv6: guest.ipv6 },
      { kind: 'updateRecords', before: [guest], after: [auto()] },
      { kind: 'restoreIpv6Forwarding', value: BEFORE },
    ]);
  });

  it('changes the rules with the pieces of the firewall found: what iptables-nft made for IPv6 goes with the last guest losing it', () => {
    const guest = withIpv6(auto());
    const found = { '6 marked filter TABLE': 1, '6 removable filter TABLE': 1 };
    const host = { ...observed(hostWithout(), [guest]), firewall: { ...emptyHost().firewall, installed: true, found } };
    const rules = planIpv6Follow(host).find((op) => op.kind === 'setGuestRules');
    assert.deepEqual(rules?.kind === 'setGuestRules' && rules.before.found, found);
  });

  it('plans nothing where the guest already matches the host, and nothing without a look at IPv6', () => {
    const wired = hostWithIpv6({ forwarding: '1', global: new Set(['wlan0', 'vm_wlan']) });
    assert.deepEqual(planIpv6Follow(observed(wired, [withIpv6(auto())])), []);
    assert.deepEqual(planIpv6Follow(observed(hostWithout(), [auto()])), []);
    assert.deepEqual(planIpv6Follow(observed(undefined, [withIpv6(auto())])), []);
  });

  it('an address still in duplicate address detection, a default route without one, or IPv6 off in the kernel is no IPv6 to share', () => {
    for (const host of [
      hostWithIpv6({ global: new Set() }),
      hostWithIpv6({ defaults: [] }),
      hostWithIpv6({ forwarding: undefined }),
      hostWithIpv6({ defaults: [{ dst: 'default', dev: 'rmnet0' }] }),
    ])
      assert.deepEqual(planIpv6Follow(observed(host, [auto()])), []);
  });

  it('leaves guests that chose IPv6 themselves (nat, routed) or chose none (off), and keeps forwarding for them', () => {
    const chosen = withIpv6(sampleRecord({ pid: 101, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4' }));
    assert.deepEqual(planIpv6Follow(observed(hostWithout(), [chosen])), []);
    assert.deepEqual(planIpv6Follow(observed(hostWithIpv6(), [sampleRecord()])), []);
    const ops = planIpv6Follow(observed(hostWithout(), [withIpv6(auto()), chosen]));
    assert.deepEqual(
      ops.map((op) => op.kind),
      ['setGuestRules', 'removeGuestIpv6', 'updateRecords'],
    );
  });

  it("puts back the host end's IPv6 of a guest whose record has it, where a pass was cut short before adding it", () => {
    const guest = withIpv6(auto());
    const host = hostWithIpv6({ forwarding: '1' });
    assert.deepEqual(planIpv6Follow(observed(host, [guest])), [{ kind: 'addGuestIpv6', record: guest, ipv6: guest.ipv6 }]);
    assert.deepEqual(planIpv6Follow(observed({ ...host, global: new Set(['wlan0', 'vm_wlan']) }, [guest])), []);
  });

  it("starts a pass for IPv6 address events of the host's links, not of guests' own links, and only with auto guests", () => {
    assert.equal(mayMoveIpv6([auto()], 'wlan0'), true);
    assert.equal(mayMoveIpv6([auto()], 'vm_wlan'), false);
    assert.equal(mayMoveIpv6([sampleRecord()], 'wlan0'), false);
  });

  it('each op has its inverse: the host end with and without IPv6, forwarding on and back', () => {
    const guest = withIpv6(auto());
    const add = { kind: 'addGuestIpv6' as const, record: guest, ipv6: guest.ipv6 };
    const remove = { kind: 'removeGuestIpv6' as const, record: guest, ipv6: guest.ipv6 };
    assert.deepEqual(undoOf(add), remove);
    assert.deepEqual(undoOf(remove), add);
    assert.deepEqual(undoOf({ kind: 'restoreIpv6Forwarding', value: BEFORE }), { kind: 'enableIpv6Forwarding', before: BEFORE });
  });
});
