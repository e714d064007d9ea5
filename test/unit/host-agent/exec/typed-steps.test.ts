import assert from 'node:assert/strict';
import { type EmptyRecord, nftables, passingName, RecordStore, stepsOf, type SublinkRecord } from '@guestnet/host-agent';
import { joinedRecord, physRecord } from '../../../fixtures/typed-records.js';

// The steps of the types other than the routed veth: a guest's link made,
// tagged and moved in one process; deleted by group whatever the guest named
// it; a name a guest chose passed as one argument, never a batch line; a
// removal that takes "the guest is gone" as done, an attach step that never
// does.

const ctx = { firewall: nftables, stateDir: '/state', records: new RecordStore('/state') };
const runs = (...args: Parameters<typeof stepsOf>) =>
  stepsOf(...args).map((s) => {
    assert.equal(s.kind, 'run');
    return s as Extract<ReturnType<typeof stepsOf>[number], { kind: 'run' }>;
  });
const macvlan = joinedRecord<SublinkRecord>({ type: 'macvlan', macvlanMode: 'bridge' });
const phys = physRecord();
const empty = joinedRecord<EmptyRecord>({ type: 'empty', link: undefined, hostIf: 'lo' });
const GUEST_GONE = ['Cannot open network namespace "/proc/300/ns/net": No such file or directory', 'Cannot find device "lo"'];

describe('exec/typed-steps: the steps of the joined types', () => {
  it("makes a sublink under a name of ours and moves it in, tagged with the token in the move's own message, in one process", () => {
    const [step, ...rest] = runs({ kind: 'createSublink', record: macvlan }, ctx);
    assert.deepEqual(rest, []);
    const lines = (step?.input ?? '').trimEnd().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
      ['link add', 'link set'],
    );
    assert.match(lines[0] ?? '', new RegExp(`name ${passingName(macvlan)} .*group 26478 type macvlan mode bridge$`));
    // One message: the kernel sets the alias after the move, in the guest's netns, and never in the host's.
    assert.equal(lines[1], `link set dev ${passingName(macvlan)} netns /proc/300/ns/net name vm_wlan0 alias ${macvlan.token}`);
  });

  it('a sublink re-made after a rotation, under the one-time name of an older token, carries the new token in its alias', () => {
    const remade = joinedRecord<SublinkRecord>({ type: 'macvlan', macvlanMode: 'bridge', guestIf: 'gnAbC123dEf456G' });
    const [step] = runs({ kind: 'createSublink', record: remade }, ctx);
    const lines = (step?.input ?? '').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(lines[1], `link set dev ${passingName(remade)} netns /proc/300/ns/net name gnAbC123dEf456G alias ${remade.token}`);
  });

  it("a sublink that arrives under its one-time name is made in the guest's netns under it, with no alias and no move", () => {
    const oneTime = joinedRecord<SublinkRecord>({
      type: 'macvlan',
      macvlanMode: 'bridge',
      token: 'guestnet:gnAbC123dEf456G',
      guestIf: 'gnAbC123dEf456G',
    });
    const [step, ...rest] = runs({ kind: 'createSublink', record: oneTime }, ctx);
    assert.deepEqual(rest, []);
    assert.equal(
      step?.input,
      `link add link eth1 name gnAbC123dEf456G netns /proc/300/ns/net address ${oneTime.guestMac} group 26478 type macvlan mode bridge\n`,
    );
  });

  it('names the kernel option a missing link type needs, as a kernel without it answers', () => {
    const [step] = runs({ kind: 'createSublink', record: joinedRecord<SublinkRecord>({ type: 'ipvlan', ipvlanMode: 'l2' }) }, ctx);
    assert.match('Error: Unknown device type.', step?.unsupported?.when ?? /^$/);
    assert.equal(step?.unsupported?.message, 'this kernel has no ipvlan links (CONFIG_IPVLAN); nothing was changed');
  });

  it('deletes what it made in the guest by group, whatever the guest renamed it, and takes a gone guest as done', () => {
    const [step] = runs({ kind: 'deleteSublinks', record: macvlan }, ctx);
    assert.deepEqual(step?.argv, ['nsenter', '--net=/proc/300/ns/net', 'ip', '-force', '-batch', '-']);
    // lo, which the kernel cannot delete, put into the group by the guest would stop the group's delete.
    assert.equal(step?.input, 'link set dev lo group default\nlink del group 26478\n');
    for (const gone of GUEST_GONE) assert.match(gone, step?.tolerate ?? /^$/);
    assert.doesNotMatch('RTNETLINK answers: Operation not permitted', step?.tolerate ?? /^$/);
  });

  it('passes a name the guest chose as one argument, never as a line of a batch', () => {
    const hostile = 'eth0\nlink del dev wlan0';
    const steps = runs({ kind: 'fetchPhys', record: phys, from: hostile }, ctx);
    assert.deepEqual(
      steps.map((s) => s.input),
      [undefined, undefined],
    );
    assert.ok(steps[0]?.argv.includes(hostile));
  });

  it("re-marks the NIC inside the guest before it moves: it reaches the host's netns with neither token nor one-time name", () => {
    const passing = passingName(phys);
    const host = `/proc/${process.pid}/ns/net`;
    const argvs = (record: typeof phys, from: string) => runs({ kind: 'fetchPhys', record, from }, ctx).map((s) => s.argv);
    assert.deepEqual(argvs(phys, 'wlan0'), [
      ['nsenter', '--net=/proc/300/ns/net', 'ip', 'link', 'set', 'dev', 'wlan0', 'alias', passing],
      ['nsenter', '--net=/proc/300/ns/net', 'ip', 'link', 'set', 'dev', 'wlan0', 'netns', host, 'name', passing],
    ]);
    // Still under its one-time name (no agent renamed it): renamed in the guest too, or it would arrive under it.
    const waiting = { ...phys, token: 'guestnet:gnAbCdEfGhIjKlM', guestIf: 'gnAbCdEfGhIjKlM' };
    assert.deepEqual(argvs(waiting, 'gnAbCdEfGhIjKlM'), [
      ['nsenter', '--net=/proc/300/ns/net', 'ip', 'link', 'set', 'dev', 'gnAbCdEfGhIjKlM', 'name', passing, 'alias', passing],
      ['nsenter', '--net=/proc/300/ns/net', 'ip', 'link', 'set', 'dev', passing, 'netns', host, 'name', passing],
    ]);
  });

  it("marks the NIC with the token in the move's own message, set in the guest's netns, and restores it with our mark going last", () => {
    const [move] = runs({ kind: 'movePhys', record: phys }, ctx);
    assert.equal(move?.input, `link set dev eth2 netns /proc/300/ns/net name vm_wlan0 alias ${phys.token}\n`);
    const restore = runs({ kind: 'restorePhys', record: phys, name: 'eth2' }, ctx);
    assert.equal(restore.length, 1, 'back under its own name: no rename');
    assert.match(restore[0]?.input ?? '', /\nlink set dev eth2 alias "[^"]*"\n$/);
  });

  it('does not take the NIC gone as done when unmarking it: a failed handover may have moved it into the guest', () => {
    const [unmark] = runs({ kind: 'unmarkPhys', record: phys }, ctx);
    assert.equal(unmark?.tolerate, undefined);
  });

  it("brings an empty guest's loopback up failing loudly, and down taking a gone guest as done", () => {
    const [up] = runs({ kind: 'setLoopbackUp', record: empty }, ctx);
    const [down] = runs({ kind: 'setLoopbackDown', record: empty }, ctx);
    assert.equal(up?.tolerate, undefined, 'an attach step tolerates nothing');
    for (const gone of GUEST_GONE) assert.match(gone, down?.tolerate ?? /^$/);
  });
});
