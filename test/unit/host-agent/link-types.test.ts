import assert from 'node:assert/strict';
import {
  type AttachmentRecord,
  nftables,
  planAttach,
  planDetach,
  planDetachAll,
  planForward,
  planReconcile,
  stepsOf,
} from '@guestnet/host-agent';
import { UsageError } from '@guestnet/protocol';
import { sampleRecord } from '../../fixtures/records.js';
import { emptyHost } from './simulate.js';

const ctx = { firewall: nftables, stateDir: '/state' };
const typed = (overrides: Partial<AttachmentRecord>) =>
  sampleRecord({
    pid: 300,
    hostIf: 'eth1',
    link: 'eth1',
    uplink: 'eth1',
    guestAddress: '192.168.77.51',
    hostAddress: '192.168.77.1',
    prefixLength: 24,
    ...overrides,
  });
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
          'link set dev gn[0-9a-f]{12} alias guestnet:a{32}\n' +
          'link set dev gn[0-9a-f]{12} netns /proc/300/ns/net name vm_wlan0\n$',
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
      argv: ['nsenter', '--net=/proc/300/ns/net', 'ip', 'link', 'del', 'group', '26478'],
      tolerate: /No such file or directory|Cannot find device|does not exist|Cannot open network namespace/,
    });
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

  it('phys: a NIC the kernel returned by itself is found by its alias and renamed back; otherwise it is fetched from the guest', () => {
    const record = typed({
      type: 'phys',
      link: 'eth2',
      hostIf: 'eth2',
      phys: { addresses: ['192.168.77.10/24'], up: true, mtu: 1500, alias: '' },
    });
    const host = { ...lan(), records: [record] };
    const returned = planDetach({ ...host, links: new Set([...host.links, 'wlan1']), aliases: new Map([['wlan1', record.token]]) }, record);
    assert.deepEqual(returned[0], { kind: 'returnPhys', record, foundAs: 'wlan1' });
    const [rename, restore] = stepsOf(returned[0]!, ctx);
    assert.deepEqual(rename?.kind === 'run' ? rename.argv : [], ['ip', 'link', 'set', 'dev', 'wlan1', 'down', 'name', 'eth2']);
    assert.equal(
      restore?.kind === 'run' ? restore.input : '',
      'link set dev eth2 alias ""\nlink set dev eth2 mtu 1500\naddress replace 192.168.77.10/24 dev eth2\nlink set dev eth2 up\n',
    );
    const fetched = planDetach(host, record);
    const [back] = stepsOf(fetched[0]!, ctx);
    assert.deepEqual(back?.kind === 'run' ? back.argv : [], ['nsenter', '--net=/proc/300/ns/net', 'ip', '-force', '-batch', '-']);
  });

  it("phys refuses the default route's interface unless forced, and a NIC already handed to another guest", () => {
    const wlan = typed({ type: 'phys', link: 'wlan0', hostIf: 'wlan0' });
    assert.throws(() => planAttach(lan(), wlan), /carries the host's default route/);
    assert.deepEqual(
      planAttach(lan(), wlan, { force: true }).map((o) => o.kind),
      ['writeRecord', 'movePhys'],
    );
    const first = typed({ type: 'phys', pid: 301, id: '301' });
    assert.throws(() => planAttach({ ...lan(), records: [first] }, typed({ type: 'phys' })), /already handed to the guest of pid 301/);
  });

  it('re-attach with another type is refused; forwards are for routed guests; detach-all and reconcile leave rules to routed ones', () => {
    const bridged = typed({ type: 'veth', link: 'br0', hostIf: 'vm_wlan' });
    const host = { ...lan(), records: [bridged] };
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
      ['deleteLink', 'deleteRecord'],
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
