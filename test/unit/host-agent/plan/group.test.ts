import assert from 'node:assert/strict';
import {
  type AttachmentRecord,
  type RoutedVethRecord,
  joinsGroup,
  mergeAttachPlans,
  nftables,
  planAttach,
  ruleOf,
  type SetupOp,
  stepsOf,
  undoOf,
} from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';
import { emptyHost, simulate } from './simulate.js';

/** The nth guest of a group, its guest end under a one-time name as a waiting attach makes it. */
const member = (n: number, overrides: Partial<RoutedVethRecord> = {}) =>
  sampleRecord({
    pid: 100 + n,
    hostIf: `vm_wlan${n}`,
    guestIf: `gnAbCdEf012345${n}`,
    token: `guestnet:gnAbCdEf012345${n}`,
    hostAddress: '172.17.0.1',
    guestAddress: `172.17.0.${10 + n}`,
    guestMac: `02:67:6e:11:00:${10 + n}`,
    tagged: true,
    ...overrides,
  });

/** Each member planned against the host and the members before it, as the service plans a group. */
function plansOf(records: AttachmentRecord[]): SetupOp[][] {
  const host = emptyHost();
  return records.map((r, i) => planAttach({ ...host, records: records.slice(0, i) }, r));
}

describe('group commit plans', () => {
  const members = [member(1), member(2), member(3)];

  it('makes every pair in one op, changes the firewall once from what was there to all of them, and forwarding once', () => {
    const merged = mergeAttachPlans(plansOf(members));
    assert.deepEqual(
      merged.map((op) => op.kind),
      ['writeRecord', 'writeRecord', 'writeRecord', 'createVeths', 'enableIpForward', 'setGuestRules'],
    );
    assert.deepEqual(merged[3], { kind: 'createVeths', records: members });
    assert.deepEqual(merged[5], {
      kind: 'setGuestRules',
      before: { installed: false, bridgedPorts: [], guests: [] },
      after: { installed: true, bridgedPorts: [], guests: members.map(ruleOf) },
    });
  });

  it("starts the firewall's change with what every member found of the host: a later one may have looked at more", () => {
    const [first, second] = plansOf(members.slice(0, 2)).map((plan) =>
      plan.map((op) => (op.kind === 'setGuestRules' ? { ...op, before: { ...op.before, found: {} as Record<string, number> } } : op)),
    );
    const seen6 = (second ?? []).map((op) =>
      op.kind === 'setGuestRules' ? { ...op, before: { ...op.before, found: { '6 absent filter TABLE': 1 } } } : op,
    );
    const rules = mergeAttachPlans([first ?? [], seen6]).find((op) => op.kind === 'setGuestRules');
    assert.deepEqual(rules?.kind === 'setGuestRules' && rules.before.found, { '6 absent filter TABLE': 1 });
  });

  it('leaves a host on which each member alone plans nothing', () => {
    const { host } = simulate(emptyHost(), mergeAttachPlans(plansOf(members)));
    for (const r of members) assert.deepEqual(planAttach(host, r), []);
  });

  it('makes the pairs in one ip -batch, every pair before any host end is set up, and undoes them all', () => {
    const op: SetupOp = { kind: 'createVeths', records: members };
    const steps = stepsOf(op, { firewall: nftables, stateDir: '/state' });
    assert.equal(steps.length, 1);
    const [batch] = steps;
    assert.ok(batch?.kind === 'run' && batch.midway);
    assert.deepEqual(batch.argv, ['ip', '-batch', '-']);
    assert.equal(batch.input?.match(/^link add /gm)?.length, 3);
    assert.match(batch.input ?? '', /link show dev vm_wlan3\n$/);
    assert.equal(batch.midway.rest.match(/^link set dev vm_wlan\d up$/gm)?.length, 3);
    assert.equal(batch.midway.steps.filter((s) => s.kind === 'sysctl' && s.path.endsWith('/rp_filter')).length, 3);
    assert.deepEqual(undoOf(op), { kind: 'deleteLinks', names: ['vm_wlan1', 'vm_wlan2', 'vm_wlan3'] });
  });

  it('takes a pair made from inside its guest (a lasting guest end name) into the same op, undone with the others', () => {
    const lasting = member(4, { guestIf: 'eth0', token: `guestnet:${'c'.repeat(32)}` });
    const merged = mergeAttachPlans(plansOf([member(1), lasting]));
    const op: SetupOp = { kind: 'createVeths', records: [member(1), lasting] };
    assert.deepEqual(
      merged.filter((o) => o.kind === 'createVeth' || o.kind === 'createVeths'),
      [op],
    );
    assert.deepEqual(undoOf(op), { kind: 'deleteLinks', names: ['vm_wlan1', 'vm_wlan4'] });
  });

  it('takes in only new guests whose plans hold the usual setup', () => {
    const [plan] = plansOf([member(1)]);
    assert.ok(plan && joinsGroup(plan));
    const { host } = simulate(emptyHost(), plan ?? []);
    assert.equal(joinsGroup(planAttach(host, member(1))), false, 'nothing to do: a re-attach');
    assert.equal(joinsGroup([{ kind: 'setUpHostEnd', record: member(1) }]), false);
    const withoutPair = (plan ?? []).filter((op) => op.kind !== 'createVeth');
    assert.equal(joinsGroup(withoutPair), false, 'a new record over a pair found: a group reports its pairs as made');
  });
});
