import assert from 'node:assert/strict';
import { type BridgedVethRecord, type FirewallState, planAttach, planDetach, planReconcile, ruleOf, undoOf } from '@guestnet/host-agent';
import { NameTakenError } from '@guestnet/protocol';
import { NO_RULES as none, sampleRecord } from '../../../fixtures/records.js';
import { joinedRecord, lanHost, undoKinds } from '../../../fixtures/typed-records.js';
import { emptyHost, firewallWith } from '../plan/simulate.js';

// A veth whose host end is a port of an existing bridge: the port locked
// before it exists, a host link never taken for ours, and detach deleting
// only a port that carries our alias.

const locked = joinedRecord<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_br', portSecurity: true });
const open = joinedRecord<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_br' });
/** The host with the guest's port made by guestnet (our alias on it). */
const portMade = (record: BridgedVethRecord, alias = 'guestnet-host:300') => ({
  ...lanHost([record], ['vm_br']),
  aliases: new Map([['vm_br', alias]]),
});

// A bridged guest's port is in guestnet's firewall content, from its record:
// the bridged driver's own attach and detach put it in and take it out, and
// every routed change carries it along.

const bridged = joinedRecord<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_br0', portSecurity: true });
const routed = sampleRecord({ pid: 100 });
const lan = () => ({ ...emptyHost(), links: new Set(['lo', 'wlan0', 'br0']) });
/** A firewall as iptables shows it: its chains, the routed guests' rules, and which ports it lets through. */
const holding = (ports: string[], rules = [ruleOf(routed)]): FirewallState => ({
  ...firewallWith(rules, true),
  hasPort: (port) => ports.includes(port),
});
/** Firewall content with the bridged guest's port let through, beside `routedRules`. */
const withPort = (...routedRules: ReturnType<typeof ruleOf>[]) => ({ installed: true, guests: routedRules, bridgedPorts: ['vm_br0'] });

describe('drivers/bridged-veth: a guest on a bridge', () => {
  it('detaches as the attach undone in reverse: the port goes before its lock, the record last', () => {
    for (const record of [locked, open]) {
      const attach = planAttach(lanHost(), record);
      assert.equal(attach[0]?.kind, 'writeRecord');
      assert.deepEqual(
        planDetach(portMade(record), record).map((o) => o.kind),
        undoKinds(attach),
        record.portSecurity ? 'locked' : 'open',
      );
    }
  });

  it('never deletes a port that is not ours: a host link that took the name stays, the lock and the record still go', () => {
    assert.deepEqual(
      planDetach(portMade(locked, 'the-hosts-own'), locked).map((o) => o.kind),
      ['removePortGuard', 'deleteRecord'],
    );
    assert.deepEqual(
      planDetach({ ...lanHost([locked]) }, locked).map((o) => o.kind),
      ['removePortGuard', 'deleteRecord'],
      'the port already gone',
    );
  });

  it('refuses a port name a host link has, and one that is the host end of another guest', () => {
    assert.throws(
      () => planAttach(lanHost([], ['vm_br']), open),
      (e: unknown) => e instanceof NameTakenError && /a link named vm_br already exists and guestnet did not create it/.test(e.message),
    );
    const routed = sampleRecord({ pid: 301, hostIf: 'vm_br' });
    assert.throws(
      () => planAttach(lanHost([routed]), open),
      (e: unknown) => e instanceof NameTakenError && /vm_br already belongs to the guest of pid 301/.test(e.message),
    );
  });

  it('gives a record whose attach was cut short the locked port it lacks, and plans nothing once it is there', () => {
    assert.deepEqual(
      planAttach(lanHost([locked]), locked).map((o) => o.kind),
      ['addPortGuard', 'createVeth'],
    );
    assert.deepEqual(planAttach(portMade(locked), locked), []);
  });
});

describe("drivers/bridged-veth: the port in guestnet's firewall", () => {
  it('attach lets the port through after the lock and before the port; detach mirrors it, keeping the routed guests', () => {
    const host = { ...lan(), records: [routed], firewall: holding([]) };
    const attach = planAttach(host, bridged);
    assert.deepEqual(
      attach.map((o) => o.kind),
      ['writeRecord', 'addPortGuard', 'setGuestRules', 'createVeth'],
    );
    const letThrough = attach[2];
    assert.deepEqual(letThrough, {
      kind: 'setGuestRules',
      before: { installed: true, guests: [ruleOf(routed)], bridgedPorts: [] },
      after: withPort(ruleOf(routed)),
    });
    const attached = {
      ...host,
      links: new Set([...host.links, 'vm_br0']),
      aliases: new Map([['vm_br0', 'guestnet-host:300']]),
      records: [routed, bridged],
      firewall: holding(['vm_br0']),
    };
    assert.deepEqual(planAttach(attached, bridged, {}), [], 'attached, and let through');
    const detach = planDetach(attached, bridged);
    assert.deepEqual(
      detach.map((o) => o.kind),
      ['deleteLink', 'setGuestRules', 'removePortGuard', 'deleteRecord'],
    );
    assert.deepEqual(detach[1], undoOf(letThrough as Parameters<typeof undoOf>[0]), 'the undo of the attach');
  });

  it('a bridged guest alone: the firewall exists for its port, and goes with it; nftables needs nothing', () => {
    const attach = planAttach(lan(), bridged);
    assert.deepEqual(attach[2], { kind: 'setGuestRules', before: none, after: withPort() });
    const nft = { ...lan(), firewall: { ...firewallWith([]), hasPort: () => true } };
    assert.deepEqual(
      planAttach(nft, bridged).map((o) => o.kind),
      ['writeRecord', 'addPortGuard', 'createVeth'],
      'nftables lets every port through as it is',
    );
    const alone = { ...lan(), links: new Set([...lan().links, 'vm_br0']), records: [bridged], firewall: holding(['vm_br0'], []) };
    assert.deepEqual(planDetach(alone, bridged)[0], { kind: 'setGuestRules', before: withPort(), after: none });
    assert.deepEqual(planAttach({ ...alone, firewall: holding([], []) }, bridged, {}), [
      { kind: 'setGuestRules', before: { installed: true, guests: [], bridgedPorts: [] }, after: withPort() },
    ]);
  });

  it("routed attach, detach and reconcile carry the bridged guests' ports, and reconcile puts a flushed port back", () => {
    const host = { ...lan(), records: [bridged], firewall: holding(['vm_br0'], []) };
    const rules = planAttach(host, routed).find((o) => o.kind === 'setGuestRules');
    assert.deepEqual(rules, { kind: 'setGuestRules', before: withPort(), after: withPort(ruleOf(routed)) });
    const both = { ...host, links: new Set([...host.links, routed.hostIf]), records: [bridged, routed], firewall: holding(['vm_br0']) };
    const [last] = planDetach(both, routed);
    assert.deepEqual(last, { kind: 'setGuestRules', before: withPort(ruleOf(routed)), after: withPort() }, 'the chains stay');
    const flushed = planReconcile({ ...both, ipForward: '1', firewall: holding([]) });
    assert.deepEqual(flushed, [
      {
        kind: 'setGuestRules',
        before: { installed: true, guests: [ruleOf(routed)], bridgedPorts: [] },
        after: withPort(ruleOf(routed)),
      },
    ]);
    assert.deepEqual(planReconcile({ ...both, ipForward: '1' }), []);
  });
});
