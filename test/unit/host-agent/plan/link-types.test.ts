import assert from 'node:assert/strict';
import {
  type BridgedVethRecord,
  nftables,
  planAttach,
  planDetach,
  planDetachAll,
  planForward,
  passingName,
  planPortGuardRepair,
  planReconcile,
  type SetupOp,
  stepsOf,
  undoOf,
} from '@guestnet/host-agent';
import { GuestWithholdsError, NameTakenError, UsageError } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedRecord, physRecord } from '../../../fixtures/typed-records.js';
import { emptyHost, firewallWith } from './simulate.js';

const ctx = { firewall: nftables, stateDir: '/state' };
// Described in the flat shape of older versions' records, and upgraded as reading one upgrades it.
const typed = joinedRecord;
const lan = () => ({ ...emptyHost(), links: new Set(['lo', 'wlan0', 'eth1', 'br0']) });

describe('network types: plans and their exact steps', () => {
  it('vlan: made from its parent, tagged and moved into the guest in one ip process; a kernel without it is named', () => {
    const record = typed({ type: 'vlan', vlanId: 5 });
    const ops = planAttach(lan(), record);
    assert.deepEqual(
      ops.map((o) => o.kind),
      ['writeRecord', 'createSublink'],
    );
    const [step] = stepsOf(ops[1]!, ctx);
    assert.ok(step?.kind === 'run');
    assert.deepEqual(step.argv, ['ip', '-batch', '-']);
    assert.match(
      step.input ?? '',
      new RegExp(
        '^link add link eth1 name gn[0-9a-f]{12} address 02:67:6e:11:03:03 group 26478 type vlan id 5\n' +
          'link set dev gn[0-9a-f]{12} netns /proc/300/ns/net name vm_wlan0 alias guestnet:a{32}\n$',
      ),
    );
    assert.equal(step.unsupported?.message, 'this kernel has no vlan links (CONFIG_VLAN_8021Q); nothing was changed');
  });

  it('ipvlan: no MAC of its own, its mode; teardown deletes our group inside the guest', () => {
    const record = typed({ type: 'ipvlan', ipvlanMode: 'l3' });
    const [, create] = planAttach(lan(), record);
    const [step] = stepsOf(create!, ctx);
    assert.match(
      step?.kind === 'run' ? (step.input ?? '') : '',
      /^link add link eth1 name gn[0-9a-f]{12} group 26478 type ipvlan mode l3\n/,
    );
    const teardown = planDetach({ ...lan(), records: [record] }, record);
    assert.deepEqual(
      teardown.map((o) => o.kind),
      ['deleteSublinks', 'deleteRecord'],
    );
    assert.deepEqual(stepsOf(teardown[0]!, ctx)[0], {
      kind: 'run',
      argv: ['nsenter', '--net=/proc/300/ns/net', 'ip', '-force', '-batch', '-'],
      input: 'link set dev lo group default\nlink del group 26478\n',
      tolerate: /No such file or directory|Cannot find device|does not exist|Cannot open network namespace|No such device/,
    });
    // What `ip link del group` says of a group with no link left: gone already.
    const removal = stepsOf(teardown[0]!, ctx)[0];
    assert.ok(removal?.kind === 'run' && removal.tolerate?.test('RTNETLINK answers: No such device'));
  });

  it('a sublink guest seen without its link, or an empty one with its loopback down (a daemon killed before), is completed', () => {
    const record = typed({ type: 'macvlan', macvlanMode: 'bridge' });
    const host = { ...lan(), records: [record] };
    assert.deepEqual(planAttach(host, record, { guest: { ourLink: false, loopbackUp: true } }), [{ kind: 'createSublink', record }]);
    assert.deepEqual(planAttach(host, record, { guest: { ourLink: true, loopbackUp: true } }), []);
    assert.deepEqual(planAttach(host, record), [], 'a guest not looked at is taken as complete');
    const empty = typed({ type: 'empty' });
    assert.deepEqual(planAttach({ ...lan(), records: [empty] }, empty, { guest: { ourLink: false, loopbackUp: false } }), [
      { kind: 'setLoopbackUp', record: empty },
    ]);
  });

  it('phys: the NIC is fetched from the guest under the passing name, and only once seen there is it renamed and restored', () => {
    const record = physRecord();
    const host = { ...lan(), records: [record] };
    const fetch = planDetach(host, record, { guestAlive: true, inGuest: 'keepme' });
    assert.deepEqual(fetch, [{ kind: 'fetchPhys', record, from: 'keepme' }], 'the record stays until the NIC is back');
    const passing = passingName(record);
    const guestGone = /No such file or directory|Cannot find device|does not exist|Cannot open network namespace/;
    assert.deepEqual(stepsOf(fetch[0]!, ctx), [
      {
        kind: 'run',
        argv: ['nsenter', '--net=/proc/300/ns/net', 'ip', 'link', 'set', 'dev', 'keepme', 'alias', passing],
        tolerate: guestGone,
      },
      {
        kind: 'run',
        argv: [
          'nsenter',
          '--net=/proc/300/ns/net',
          'ip',
          'link',
          'set',
          'dev',
          'keepme',
          'netns',
          `/proc/${process.pid}/ns/net`,
          'name',
          passing,
        ],
        tolerate: guestGone,
      },
    ]);
    const restore = planDetach(host, record, { guestAlive: true, onHost: passingName(record) });
    assert.deepEqual(
      restore.map((o) => o.kind),
      ['restorePhys', 'deleteRecord'],
    );
    const [rename, restoreSteps] = stepsOf(restore[0]!, ctx);
    assert.deepEqual(rename?.kind === 'run' ? rename.argv : [], ['ip', 'link', 'set', 'dev', passingName(record), 'down', 'name', 'eth2']);
    assert.equal(
      restoreSteps?.kind === 'run' ? restoreSteps.input : '',
      'link set dev eth2 mtu 1500\naddress replace 192.168.77.10/24 dev eth2\nlink set dev eth2 up\nlink set dev eth2 alias ""\n',
    );
    // The kernel returned it under its own name, still marked: no rename.
    assert.equal(stepsOf(planDetach(host, record, { guestAlive: false, onHost: 'eth2' })[0]!, ctx).length, 1);
  });

  it('phys: what came instead of the NIC goes back; a NIC nowhere while the guest lives is withheld, and the record kept', () => {
    const record = physRecord();
    const host = { ...lan(), records: [record] };
    const impostor = planDetach(host, record, { guestAlive: true, impostor: passingName(record), inGuest: 'keepme' });
    assert.deepEqual(impostor, [{ kind: 'sendBackPhys', record, name: passingName(record), guestAlive: true }]);
    const [back] = stepsOf(impostor[0]!, ctx);
    assert.ok(back?.kind === 'run');
    assert.deepEqual(back.argv, ['ip', '-force', '-batch', '-']);
    assert.equal(back.input, `link set dev ${passingName(record)} netns /proc/300/ns/net\nlink del dev ${passingName(record)}\n`);
    for (const done of [
      `Cannot find device "${passingName(record)}"\nCommand failed -:2`,
      'RTNETLINK answers: File exists\nCommand failed -:1',
    ])
      assert.ok(back.tolerate?.test(done), done);
    assert.ok(!back.tolerate?.test('RTNETLINK answers: File exists\nRTNETLINK answers: Operation not permitted'));
    assert.throws(
      () => planDetach(host, record, { guestAlive: true }),
      (e: unknown) =>
        e instanceof GuestWithholdsError &&
        e.exitCode === 18 &&
        /^NIC withheld by the guest: pid 300 has no link that is eth2/.test(e.message),
    );
    assert.deepEqual(planDetach(host, record, { guestAlive: false }), [{ kind: 'deleteRecord', id: '300' }], 'a NIC gone with its guest');
  });

  it("phys: while the NIC's name is another host link's, the uplink's above all, nothing moves and nothing is restored", () => {
    const record = physRecord();
    const taken = { ...lan(), links: new Set([...lan().links, 'eth2']), records: [record] };
    for (const nicSeen of [
      { guestAlive: true, inGuest: 'wlan0' },
      { guestAlive: true, onHost: passingName(record) },
    ])
      assert.throws(
        () => planDetach(taken, record, nicSeen),
        (e: unknown) => e instanceof NameTakenError && /eth2 is another link on the host now/.test(e.message),
      );
    assert.deepEqual(
      planDetach(taken, record, { guestAlive: false, onHost: 'dev7' }),
      [{ kind: 'deleteRecord', id: '300' }],
      'its guest gone, the NIC stays as dev7',
    );
    const damaged = { ...record, link: 'wlan0', hostIf: 'wlan0', uplink: 'wlan0' };
    assert.throws(
      () => planDetach({ ...lan(), records: [damaged] }, damaged, { guestAlive: true, inGuest: 'vm_wlan0' }),
      /wlan0 is another link on the host now \(the uplink\)/,
    );
  });

  it('phys refuses a link that is not a NIC, and completes a cut-short handover only with the recorded NIC', () => {
    const fresh = physRecord();
    const withNic = { ...lan(), links: new Set([...lan().links, 'eth2']) };
    assert.throws(
      () => planAttach(withNic, fresh, { notNic: 'the kernel shows a veth link' }),
      /^UsageError: --link eth2 is not a NIC: the kernel shows a veth link; --type phys hands over hardware only$/,
    );
    assert.deepEqual(
      planAttach(withNic, fresh).map((o) => o.kind),
      ['writeRecord', 'movePhys'],
    );
    const host = { ...withNic, records: [fresh] };
    assert.deepEqual(planAttach(host, fresh, { guest: { ourLink: true, loopbackUp: true, nicOnHost: true } }), [
      { kind: 'movePhys', record: fresh },
    ]);
    assert.deepEqual(planAttach(host, fresh, { guest: { ourLink: true, loopbackUp: true, nicOnHost: false } }), []);
    assert.deepEqual(undoOf({ kind: 'movePhys', record: fresh }), { kind: 'unmarkPhys', record: fresh });
  });

  it('a bridged veth: its port is locked before it exists and unlocked after it is gone; --port-security off has no lock', () => {
    const bridged = typed<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_wlan', portSecurity: true });
    const attach = planAttach(lan(), bridged);
    assert.deepEqual(
      attach.map((o) => o.kind),
      ['writeRecord', 'addPortGuard', 'setGuestRules', 'createVeth'],
    );
    assert.deepEqual(undoOf(attach[1] as SetupOp), { kind: 'removePortGuard', record: bridged });
    const attached = {
      ...lan(),
      links: new Set([...lan().links, 'vm_wlan']),
      aliases: new Map([['vm_wlan', 'guestnet-host:300']]),
      records: [bridged],
      firewall: { ...firewallWith([], true), hasPort: (port: string) => port === 'vm_wlan' },
    };
    assert.deepEqual(
      planDetach(attached, bridged).map((o) => o.kind),
      ['deleteLink', 'setGuestRules', 'removePortGuard', 'deleteRecord'],
    );
    assert.deepEqual(stepsOf({ kind: 'removePortGuard', record: bridged }, ctx), [
      {
        kind: 'run',
        argv: ['nft', '-f', '-'],
        spare: 'nft',
        input: 'add table bridge guestnet_port_300\ndelete table bridge guestnet_port_300\n',
      },
    ]);
    // A restart after the record was written makes the lock and the port.
    assert.deepEqual(
      planAttach({ ...lan(), records: [bridged] }, bridged).map((o) => o.kind),
      ['addPortGuard', 'setGuestRules', 'createVeth'],
    );
    const open = typed({ type: 'veth', link: 'br0', hostIf: 'vm_wlan' });
    assert.deepEqual(
      planAttach(lan(), open).map((o) => o.kind),
      ['writeRecord', 'setGuestRules', 'createVeth'],
    );
    assert.throws(() => planAttach({ ...lan(), records: [open] }, bridged), /attached with --port-security off; detach it first/);
  });

  it("the daemon's loop makes again a lock someone removed, while its port is there", () => {
    const bridged = typed<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_wlan', portSecurity: true });
    const open = typed({ type: 'veth', link: 'br0', hostIf: 'vm_wlan1', pid: 301, id: '301' });
    const host = { links: new Set(['br0', 'vm_wlan', 'vm_wlan1']), records: [bridged, open] };
    assert.deepEqual(planPortGuardRepair(host, new Set()), [{ kind: 'addPortGuard', record: bridged }]);
    assert.deepEqual(planPortGuardRepair(host, new Set(['bridge guestnet_port_300'])), []);
    assert.deepEqual(planPortGuardRepair({ ...host, links: new Set(['br0']) }, new Set()), [], 'no port, nothing to lock');
  });

  it("phys refuses the default route's interface unless forced, and a NIC already handed to another guest", () => {
    const wlan = physRecord({ link: 'wlan0', hostIf: 'wlan0' });
    assert.throws(() => planAttach(lan(), wlan), /carries the host's default route/);
    assert.deepEqual(
      planAttach(lan(), wlan, { force: true }).map((o) => o.kind),
      ['writeRecord', 'movePhys'],
    );
    const first = physRecord({ pid: 301, id: '301', link: 'eth1', hostIf: 'eth1' });
    assert.throws(
      () => planAttach({ ...lan(), records: [first] }, physRecord({ link: 'eth1', hostIf: 'eth1' })),
      /already handed to the guest of pid 301/,
    );
  });

  it('re-attach with another type is refused; forwards are for routed guests; detach-all and reconcile see only the port', () => {
    const bridged = typed({ type: 'veth', link: 'br0', hostIf: 'vm_wlan' });
    const host = { ...lan(), records: [bridged], firewall: { ...firewallWith([], true), hasPort: () => true } };
    assert.throws(() => planAttach(host, typed({ type: 'macvlan' })), UsageError);
    assert.throws(() => planAttach(host, sampleRecord({ pid: 300 })), /already attached as veth on bridge br0/);
    assert.throws(
      () => planForward(host, bridged, { protocol: 'tcp', hostPort: 5555, guestPort: 5555 }, false),
      /port forwards are for routed guests/,
    );
    assert.deepEqual(planReconcile({ ...host, ipForward: '0' }), []);
    const all = planDetachAll({
      ...host,
      aliases: new Map([['vm_wlan', 'guestnet-host:300']]),
      links: new Set([...host.links, 'vm_wlan']),
    });
    assert.deepEqual(
      all.map((o) => o.kind),
      ['deleteLink', 'setGuestRules', 'deleteRecord'],
      'the firewall goes once, whole',
    );
  });

  it('empty brings up the loopback and nothing else; none changes nothing but its record', () => {
    assert.deepEqual(
      planAttach(lan(), typed({ type: 'empty', link: undefined, hostIf: 'lo' })).map((o) => o.kind),
      ['writeRecord', 'setLoopbackUp'],
    );
    assert.deepEqual(
      planAttach(lan(), typed({ type: 'none', link: undefined, hostIf: 'lo' })).map((o) => o.kind),
      ['writeRecord'],
    );
  });
});
