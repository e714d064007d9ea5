import assert from 'node:assert/strict';
import { nftables, type Step, stepsOf } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

// A group's pairs (exec/veth-steps.ts): those of one-time guest end names in
// one host process; those of lasting names each made in its guest's netns,
// and their host ends set up together in one more host process.

const ctx = { firewall: nftables, stateDir: '/state' };
const lasting = (n: number) =>
  sampleRecord({
    pid: 4000 + n,
    hostIf: `vm_wlan${n}`,
    guestIf: 'eth0',
    guestAddress: `172.17.3.${n + 2}`,
    guestMac: `02:67:6e:11:03:0${n + 2}`,
    token: `guestnet:${String(n).repeat(32)}`,
  });
const oneTime = (n: number) => ({ ...lasting(n), guestIf: `gnAbCdEf012345${n}`, token: `guestnet:gnAbCdEf012345${n}` });
const runs = (steps: Step[]) => steps.filter((s): s is Step & { kind: 'run' } => s.kind === 'run');

describe('host-agent/exec/veth-steps: the pairs of a group, in as few processes as their names allow', () => {
  it('makes each pair of a lasting name in its guest, then sets up all their host ends in one host process', () => {
    const records = [lasting(1), lasting(2), lasting(3)];
    const steps = stepsOf({ kind: 'createVeths', records }, ctx);
    const [first, second, third, hostEnds, ...more] = runs(steps);
    assert.deepEqual(
      [first, second, third].map((s) => s?.argv.slice(0, 2)),
      records.map((r) => ['nsenter', `--net=/proc/${r.pid}/ns/net`]),
    );
    assert.equal(more.length, 0);
    assert.deepEqual(hostEnds?.argv, ['ip', '-batch', '-']);
    assert.equal(hostEnds?.input?.match(/^link set dev vm_wlan\d up$/gm)?.length, 3);
    // Every host end's settings are written before that process brings any of them up.
    const setUp = steps.indexOf(hostEnds as Step);
    const settings = steps.flatMap((s, i) => (s.kind === 'sysctl' && s.path.endsWith('/rp_filter') ? [i] : []));
    assert.equal(settings.length, 3);
    assert.ok(settings.every((i) => i < setUp && i > steps.indexOf(third as Step)));
  });

  it('with both kinds in one group: one host process for the one-time names, one per lasting guest, one for their host ends', () => {
    const steps = stepsOf({ kind: 'createVeths', records: [oneTime(1), lasting(2), oneTime(3)] }, ctx);
    assert.deepEqual(
      runs(steps).map((s) => s.argv[0]),
      ['ip', 'nsenter', 'ip'],
    );
    const [onHost] = runs(steps);
    assert.equal(onHost?.input?.match(/^link add /gm)?.length, 2);
    assert.match(onHost?.input ?? '', /link show dev vm_wlan3\n$/);
  });

  it('makes a routed host end with the MAC its record implies, in both ways of making the pair', () => {
    for (const record of [lasting(1), oneTime(1)]) {
      const [made] = runs(stepsOf({ kind: 'createVeth', record }, ctx));
      assert.ok(made?.input?.includes(' mtu 1500 address 06:67:6e:11:03:03 '), made?.input);
    }
  });
});
