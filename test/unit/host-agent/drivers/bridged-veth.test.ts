import assert from 'node:assert/strict';
import { type BridgedVethRecord, type FirewallState, planAttach, planDetach, planReconcile, ruleOf, undoOf } from '@guestnet/host-agent';
import { NO_RULES as none, sampleRecord, typedRecord } from '../../../fixtures/records.js';
import { emptyHost, firewallWith } from '../plan/simulate.js';

// A bridged guest's port is in guestnet's firewall content, from its record:
// the bridged driver's own attach and detach put it in and take it out, and
// every routed change carries it along.

const bridged = typedRecord<BridgedVethRecord>({
  pid: 300,
  type: 'veth',
  link: 'br0',
  hostIf: 'vm_br0',
  portSecurity: true,
  guestAddress: '192.168.77.51',
  hostAddress: '192.168.77.1',
  prefixLength: 24,
});
const routed = sampleRecord({ pid: 100 });
const lan = () => ({ ...emptyHost(), links: new Set(['lo', 'wlan0', 'br0']) });
/** A firewall as iptables shows it: its chains, the routed guests' rules, and which ports it lets through. */
const holding = (ports: string[], rules = [ruleOf(routed)]): FirewallState => ({
  ...firewallWith(rules, true),
  hasPort: (port) => ports.includes(port),
});
const withPort = (...routedRules: ReturnType<typeof ruleOf>[]) => ({ installed: true, guests: routedRules, bridgedPorts: ['vm_br0'] });

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
