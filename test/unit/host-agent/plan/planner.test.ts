import assert from 'node:assert/strict';
import {
  type RoutedVethRecord,
  nftables,
  planAttach,
  planDetach,
  planDetachAll,
  planDetachRoutedGroup,
  planForward,
  planReconcile,
  ruleOf,
  stepsOf,
  undoOf,
} from '@guestnet/host-agent';
import { NameTakenError, UsageError } from '@guestnet/protocol';
import { sampleRecord, SAMPLE_RULE as rule, installed, NO_RULES as none } from '../../../fixtures/records.js';
import { emptyHost, firewallWith, simulate } from './simulate.js';

const record = (pid = 100, overrides: Partial<RoutedVethRecord> = {}) => sampleRecord({ pid, ...overrides });

describe('host planner', () => {
  describe('planAttach', () => {
    it('plans the whole design on a blank host, record first', () => {
      assert.deepEqual(planAttach(emptyHost(), record()), [
        { kind: 'writeRecord', record: record() },
        { kind: 'createVeth', record: record() },
        { kind: 'enableIpForward', before: '0' },
        { kind: 'setGuestRules', before: none, after: installed(rule) },
      ]);
    });

    it('plans nothing after its own plan was applied', () => {
      const host = emptyHost();
      const { host: after } = simulate(host, planAttach(host, record()));
      assert.deepEqual(planAttach(after, record()), []);
    });

    it('sets up a host end that an attach made but died before bringing up, and does nothing to one that is up', () => {
      const tagged = record(100, { tagged: true });
      const { host } = simulate(emptyHost(), planAttach(emptyHost(), tagged));
      const halfMade = { ...host, down: new Set(['vm_wlan']) };
      assert.deepEqual(
        planAttach(halfMade, tagged).filter((op) => op.kind === 'setUpHostEnd' || op.kind === 'createVeth'),
        [{ kind: 'setUpHostEnd', record: tagged }],
      );
      assert.deepEqual(undoOf({ kind: 'setUpHostEnd', record: tagged }), { kind: 'deleteLink', name: 'vm_wlan' });
      assert.deepEqual(planAttach({ ...host, down: new Set() }, tagged), []);
      const steps = stepsOf({ kind: 'setUpHostEnd', record: tagged }, { firewall: nftables, stateDir: '/state' });
      const last = steps.at(-1);
      assert.ok(
        steps.slice(0, -1).every((s) => s.kind === 'sysctl'),
        'the settings come before it is up',
      );
      assert.match(
        last?.kind === 'run' ? (last.input ?? '') : '',
        /^address replace 172\.17\.3\.2\/32 peer 172\.17\.3\.3\/32 dev vm_wlan\n/,
      );
    });

    it('leaves ip_forward alone when it is already on', () => {
      const host = { ...emptyHost(), ipForward: '1' };
      assert.ok(!planAttach(host, record()).some((op) => op.kind === 'enableIpForward'));
    });

    it('adds to an existing guestnet table instead of creating it', () => {
      const other = record(200, { hostIf: 'vm_wlan1', guestAddress: '172.17.3.5' });
      const host = { ...emptyHost(), records: [other], links: new Set(['wlan0', 'vm_wlan1']), firewall: firewallWith([ruleOf(other)]) };
      assert.deepEqual(planAttach(host, record()).at(-1), {
        kind: 'setGuestRules',
        before: installed(ruleOf(other)),
        after: installed(ruleOf(other), rule),
      });
    });

    it('re-adds only what is missing, e.g. rules flushed by someone else', () => {
      const host = emptyHost();
      const { host: after } = simulate(host, planAttach(host, record()));
      const flushed = { ...after, firewall: firewallWith([]) };
      assert.deepEqual(planAttach(flushed, record()), [{ kind: 'setGuestRules', before: none, after: installed(rule) }]);
    });

    it('refuses a host link name it did not create', () => {
      const host = { ...emptyHost(), links: new Set(['wlan0', 'vm_wlan']) };
      assert.throws(() => planAttach(host, record()), NameTakenError);
    });

    it("refuses another guest's link name or address", () => {
      const host = { ...emptyHost(), records: [record(200)] };
      assert.throws(() => planAttach(host, record(100)), /already belongs to the guest of pid 200/);
      const sameAddress = { ...emptyHost(), records: [record(200, { hostIf: 'vm_wlan1' })] };
      assert.throws(() => planAttach(sameAddress, record(100)), /172\.17\.3\.3 is already the address/);
    });

    it('refuses to silently change an attachment', () => {
      const host = { ...emptyHost(), records: [record()] };
      assert.throws(() => planAttach(host, record(100, { mtu: 1400 })), UsageError);
    });

    it('re-attached with other forwards: rewrites the record, then swaps the old rules for the new in one change', () => {
      const web = { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80 };
      const dns = { protocol: 'udp' as const, hostPort: 5353, guestPort: 53 };
      const host = simulate(emptyHost(), planAttach(emptyHost(), record(100, { forwards: [web] }))).host;
      const ops = planAttach(host, record(100, { forwards: [dns] }));
      assert.deepEqual(ops, [
        { kind: 'updateRecords', before: [record(100, { forwards: [web] })], after: [record(100, { forwards: [dns] })] },
        { kind: 'setGuestRules', before: installed({ ...rule, forwards: [web] }), after: installed({ ...rule, forwards: [dns] }) },
      ]);
      assert.deepEqual(planAttach(simulate(host, ops, [{ ...rule, forwards: [web] }]).host, record(100, { forwards: [dns] })), []);
      // The same forwards in another order leave the record as it is.
      const both = simulate(emptyHost(), planAttach(emptyHost(), record(100, { forwards: [web, dns] }))).host;
      assert.ok(!planAttach(both, record(100, { forwards: [dns, web] })).some((op) => op.kind === 'updateRecords'));
    });
  });

  describe('planForward', () => {
    const adb = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };
    const attached = () => simulate(emptyHost(), planAttach(emptyHost(), record())).host;

    it('adds a forward by rewriting the record and the map in one firewall change, then plans nothing', () => {
      const host = attached();
      const ops = planForward(host, record(), adb, false);
      assert.deepEqual(ops, [
        { kind: 'updateRecords', before: [record()], after: [record(100, { forwards: [adb] })] },
        { kind: 'setGuestRules', before: installed(rule), after: installed({ ...rule, forwards: [adb] }) },
      ]);
      const after = simulate(host, ops, [rule]).host;
      assert.deepEqual(planForward(after, record(100, { forwards: [adb] }), adb, false), []);
    });

    it('replaces the guest port of a host port, and removes it again', () => {
      const withAdb = record(100, { forwards: [adb] });
      const host = simulate(attached(), planForward(attached(), record(), adb, false), [rule]).host;
      assert.deepEqual(planForward(host, withAdb, { ...adb, guestPort: 5037 }, false)[0], {
        kind: 'updateRecords',
        before: [withAdb],
        after: [record(100, { forwards: [{ ...adb, guestPort: 5037 }] })],
      });
      assert.deepEqual(planForward(host, withAdb, adb, true), [
        { kind: 'updateRecords', before: [withAdb], after: [record(100)] },
        { kind: 'setGuestRules', before: installed({ ...rule, forwards: [adb] }), after: installed(rule) },
      ]);
    });

    it('refuses a host port another guest already has', () => {
      const other = record(200, { hostIf: 'vm_wlan1', guestAddress: '172.17.3.4', forwards: [adb] });
      const host = { ...attached(), records: [...attached().records, other] };
      assert.throws(() => planForward(host, record(), adb, false), /tcp port 5555 is already forwarded to the guest of pid 200/);
    });
  });

  describe('planDetach', () => {
    const attached = () => simulate(emptyHost(), planAttach(emptyHost(), record())).host;

    it('mirrors attach: rules, link, ip_forward, record', () => {
      assert.deepEqual(planDetach(attached(), record()), [
        { kind: 'setGuestRules', before: installed(rule), after: none },
        { kind: 'deleteLink', name: 'vm_wlan' },
        { kind: 'restoreIpForward', value: '0' },
        { kind: 'deleteRecord', id: '100' },
      ]);
    });

    it('returns the host to where it started, and then plans nothing', () => {
      const { host } = simulate(attached(), planDetach(attached(), record()));
      assert.deepEqual([...host.links], [...emptyHost().links]);
      assert.equal(host.ipForward, '0');
      assert.equal(host.firewall.installed, false);
      assert.deepEqual(host.records, []);
      assert.deepEqual(planDetach(host, record()), []);
    });

    it('takes a firewall that is there only in pieces (an older shape, a partial flush): made whole for the others, or removed', () => {
      const pieces = { installed: false, found: { 'ip guestnet': 1 }, has: () => false, hasPort: () => false };
      const other = record(200, { hostIf: 'vm_wlan1', guestAddress: '172.17.3.5' });
      const last = { ...attached(), firewall: pieces };
      const [rules] = planDetach(last, record());
      assert.deepEqual(rules, { kind: 'setGuestRules', before: { ...none, found: pieces.found }, after: none });
      const [drop] = stepsOf(rules as Parameters<typeof stepsOf>[0], { firewall: nftables, stateDir: '/state' });
      assert.equal(drop?.kind === 'run' && drop.input, 'add table ip guestnet\ndelete table ip guestnet\n');
      const shared = { ...last, records: [...last.records, other], links: new Set([...last.links, 'vm_wlan1']) };
      assert.deepEqual(planDetach(shared, record())[0], {
        kind: 'setGuestRules',
        before: { ...none, found: pieces.found },
        after: installed(ruleOf(other)),
      });
      assert.deepEqual(planDetachAll(last)[0], { kind: 'setGuestRules', before: { ...none, found: pieces.found }, after: none });
    });

    it('deletes only the link guestnet tagged for the record, never a host link that took its name', () => {
      const tagged = record(100, { tagged: true });
      const { host } = simulate(emptyHost(), planAttach(emptyHost(), tagged));
      assert.ok(planDetach(host, tagged).some((op) => op.kind === 'deleteLink'));
      const taken = { ...host, aliases: new Map([['vm_wlan', 'the host made this one']]) };
      assert.ok(!planDetach(taken, tagged).some((op) => op.kind === 'deleteLink'));
      assert.ok(!planDetach({ ...host, aliases: new Map() }, tagged).some((op) => op.kind === 'deleteLink'));
      assert.throws(() => planAttach(taken, tagged), /guestnet did not create it/);
    });

    it('takes guests that leave together in one firewall change and one process for their links, and keeps what the others need', () => {
      const [a, b, c] = [100, 200, 300].map((pid, i) => record(pid, { hostIf: `vm_wlan${i}`, guestAddress: `172.17.3.${3 + i}` })) as [
        RoutedVethRecord,
        RoutedVethRecord,
        RoutedVethRecord,
      ];
      let host = emptyHost();
      for (const r of [a, b, c]) host = simulate(host, planAttach(host, r)).host;
      const ops = planDetachRoutedGroup(host, [a, b]);
      assert.deepEqual(ops, [
        { kind: 'setGuestRules', before: installed(ruleOf(c), ruleOf(a), ruleOf(b)), after: installed(ruleOf(c)) },
        { kind: 'deleteLinks', names: ['vm_wlan0', 'vm_wlan1'] },
        { kind: 'deleteRecord', id: '100' },
        { kind: 'deleteRecord', id: '200' },
      ]);
      const left = simulate(host, ops).host;
      assert.deepEqual(left.records, [c]);
      assert.deepEqual(planDetachRoutedGroup(left, [c]), planDetach(left, c));
    });

    it('skips the link when the guest is gone (the kernel deleted the veth)', () => {
      const gone = { ...attached(), links: new Set(['lo', 'wlan0']) };
      assert.ok(!planDetach(gone, record()).some((op) => op.kind === 'deleteLink'));
    });

    it('keeps the table and ip_forward while another guest remains', () => {
      const other = record(200, { hostIf: 'vm_wlan1', guestAddress: '172.17.3.5' });
      const first = attached();
      const both = simulate(first, planAttach(first, other), [rule]).host;
      assert.deepEqual(planDetach(both, record()), [
        { kind: 'setGuestRules', before: installed(ruleOf(other), rule), after: installed(ruleOf(other)) },
        { kind: 'deleteLink', name: 'vm_wlan' },
        { kind: 'deleteRecord', id: '100' },
      ]);
    });
  });
});

describe('host planner: planReconcile', () => {
  const attachedTo = (uplink: string, pinned = false) => {
    const guest = record(100, pinned ? { uplinkPinned: true } : {});
    const host = simulate(emptyHost(), planAttach(emptyHost(), guest)).host;
    return { guest, host: { ...host, links: new Set([...host.links, 'rmnet0']), routes: [{ dst: 'default', dev: uplink }] } };
  };

  it('plans nothing while the host is as attach left it', () => {
    assert.deepEqual(planReconcile(attachedTo('wlan0').host), []);
  });

  it('moves guests to the new default route in one firewall change, and back again on its inverse', () => {
    const { guest, host } = attachedTo('rmnet0');
    const ops = planReconcile(host);
    assert.deepEqual(ops, [
      { kind: 'updateRecords', before: [guest], after: [{ ...guest, uplink: 'rmnet0' }] },
      { kind: 'setGuestRules', before: installed(rule), after: installed({ ...rule, uplink: 'rmnet0' }) },
    ]);
    assert.deepEqual(ops.map(undoOf), [
      { kind: 'updateRecords', before: [{ ...guest, uplink: 'rmnet0' }], after: [guest] },
      { kind: 'setGuestRules', before: installed({ ...rule, uplink: 'rmnet0' }), after: installed(rule) },
    ]);
  });

  it('leaves a guest whose uplink was pinned with --uplink where it is', () => {
    assert.deepEqual(planReconcile(attachedTo('rmnet0', true).host), []);
  });

  it("follows the uplink's MTU on the guest link, and its inverse puts the old one back", () => {
    const { guest, host } = attachedTo('wlan0');
    const smaller = { ...host, mtus: new Map([...host.mtus, ['wlan0', 1400]]) };
    const ops = planReconcile(smaller);
    assert.deepEqual(ops, [
      { kind: 'updateRecords', before: [guest], after: [{ ...guest, mtu: 1400 }] },
      { kind: 'setLinkMtu', record: { ...guest, mtu: 1400 }, mtu: 1400, before: 1500 },
    ]);
    assert.deepEqual(undoOf(ops[1] as (typeof ops)[number]), {
      kind: 'setLinkMtu',
      record: { ...guest, mtu: 1400 },
      mtu: 1500,
      before: 1400,
    });
    assert.deepEqual(planReconcile(simulate(smaller, ops, [rule]).host), []);
  });

  it("takes a default route's own MTU when it is smaller than the link's", () => {
    const { guest, host } = attachedTo('wlan0');
    const tunnelled = { ...host, policy: { ...host.policy, defaults: [{ dev: 'wlan0', table: 'main', mtu: 1280 }] } };
    assert.deepEqual(
      planReconcile(tunnelled).find((op) => op.kind === 'setLinkMtu'),
      { kind: 'setLinkMtu', record: { ...guest, mtu: 1280 }, mtu: 1280, before: 1500 },
    );
  });

  it('leaves an MTU pinned with --mtu as it is', () => {
    const guest = record(100, { mtuPinned: true });
    const host = simulate(emptyHost(), planAttach(emptyHost(), guest)).host;
    assert.deepEqual(planReconcile({ ...host, mtus: new Map([...host.mtus, ['wlan0', 1400]]) }), []);
  });

  it('puts back the table or chains a firewall reload removed, with every guest', () => {
    const { host } = attachedTo('wlan0');
    const flushed = { ...host, firewall: firewallWith([], false) };
    assert.deepEqual(planReconcile(flushed), [{ kind: 'setGuestRules', before: none, after: installed(rule) }]);
  });
});

describe('host planner on a netd-style (Android) host', () => {
  const netd = () => ({
    ...emptyHost(),
    routes: [],
    policy: { defaults: [{ dev: 'wlan0', table: '1003' }], rules: [{ priority: 32000 }], localNetwork: new Set<string>() },
  });
  const guest = () => record(100, { policyTable: 1003 });

  it("adds the guest's ip rule to the uplink table and its route in table 97, after the firewall", () => {
    assert.deepEqual(planAttach(netd(), guest()).at(-1), {
      kind: 'addPolicyRoute',
      route: { hostIf: 'vm_wlan', guestAddress: '172.17.3.3', gateway: '172.17.3.2', table: 1003 },
    });
  });

  it('plans nothing after apply, puts the rule back after netd flushed it, and removes it on detach', () => {
    const after = simulate(netd(), planAttach(netd(), guest())).host;
    assert.deepEqual(planAttach(after, guest()), []);
    const flushed = { ...after, policy: { ...after.policy, rules: [{ priority: 32000 }] } };
    assert.deepEqual(
      planReconcile(flushed).map((op) => op.kind),
      ['addPolicyRoute'],
    );
    assert.ok(planDetach(after, guest()).some((op) => op.kind === 'removePolicyRoute'));
  });
});

describe('host planner: planDetachAll', () => {
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      record(1000 + i, {
        hostIf: `vm_wlan${i || ''}`,
        guestAddress: `172.17.${3 + Math.floor((i + 1) / 250)}.${(3 + i) % 253}`,
        token: `guestnet:${String(i).padStart(32, '0')}`,
        tagged: true,
      }),
    );
  const attachedAll = (records: RoutedVethRecord[]) =>
    records.reduce((host, r) => simulate(host, planAttach(host, r), (host.records as RoutedVethRecord[]).map(ruleOf)).host, emptyHost());

  it('removes 200 guests with one firewall change, one link batch, and the records, leaving the host as before', () => {
    const records = many(200);
    const host = attachedAll(records);
    const ops = planDetachAll(host);
    assert.deepEqual(
      ops.filter((op) => op.kind !== 'deleteRecord').map((op) => op.kind),
      ['setGuestRules', 'deleteLinks', 'restoreIpForward'],
    );
    assert.equal(ops.filter((op) => op.kind === 'deleteRecord').length, 200);
    const processes = ops.flatMap((op) => stepsOf(op, { firewall: nftables, stateDir: '/state' })).filter((step) => step.kind === 'run');
    assert.equal(processes.length, 2, 'nft delete table, and one ip link del group');
    assert.deepEqual(
      ops.find((op) => op.kind === 'deleteLinks'),
      { kind: 'deleteLinks', names: records.map((r) => r.hostIf), group: 26478 },
    );
    const after = simulate(host, ops).host;
    assert.deepEqual([[...after.links], after.records, after.ipForward], [['lo', 'wlan0'], [], '0']);
  });

  it('never deletes a link that is not provably ours: then the group is not deleted whole, ours go by name', () => {
    const [ours, retagged] = many(2) as [RoutedVethRecord, RoutedVethRecord];
    const host = attachedAll([ours, retagged]);
    const foreign = { ...host, aliases: new Map([...host.aliases].filter(([name]) => name !== retagged.hostIf)) };
    assert.deepEqual(
      planDetachAll(foreign).filter((op) => op.kind === 'deleteLinks'),
      [{ kind: 'deleteLinks', names: [ours.hostIf] }],
    );
  });

  it('plans nothing but forgetting when nothing of ours is left', () => {
    assert.deepEqual(planDetachAll(emptyHost()), []);
  });
});
