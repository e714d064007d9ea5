import assert from 'node:assert/strict';
import { familyOf, type GuestOp, inverseOf, ipLinesOf } from '@guestnet/guest-agent';

const before = Buffer.from('nameserver 192.0.2.1\n');
const content = Buffer.from('nameserver 172.17.3.2\n');

describe('guest ops', () => {
  it('undoes each op with its inverse, and inverting twice gives the op back', () => {
    const ops: GuestOp[] = [
      { kind: 'linkUp', name: 'wlan0' },
      { kind: 'renameLink', from: 'vm_wlan0', to: 'wlan0' },
      { kind: 'setMtu', name: 'wlan0', mtu: 1400, before: 1500 },
      { kind: 'setAlias', name: 'wlan0', alias: 'guestnet:gnAbCdEf0123456', before: 'old' },
      { kind: 'addAddress', name: 'wlan0', cidr: '172.17.3.3/16' },
      { kind: 'setDefaultRoute', gateway: '172.17.3.2', dev: 'wlan0', before: { gateway: '192.0.2.1', dev: 'eth0' } },
      { kind: 'addMainRule', priority: 9999, family: 6 },
      { kind: 'writeDnsFile', path: '/etc/resolv.conf', content, before, synced: false },
    ];
    for (const op of ops) assert.deepEqual(inverseOf(inverseOf(op)!), op, op.kind);
  });

  it('undoes a first default route by deleting it in its family, a new file by removing it, and an alias by clearing it', () => {
    assert.deepEqual(inverseOf({ kind: 'setDefaultRoute', gateway: 'fd00::1', dev: 'wlan0', before: undefined }), {
      kind: 'deleteDefaultRoute',
      family: 6,
    });
    assert.deepEqual(inverseOf({ kind: 'setDefaultRoute', gateway: '172.17.3.2', dev: 'wlan0', before: undefined }), {
      kind: 'deleteDefaultRoute',
    });
    assert.deepEqual(inverseOf({ kind: 'writeDnsFile', path: '/x', content, before: undefined, synced: true }), {
      kind: 'removeFile',
      path: '/x',
    });
    assert.deepEqual(inverseOf({ kind: 'setAlias', name: 'wlan0', alias: 'a', before: undefined }), {
      kind: 'setAlias',
      name: 'wlan0',
      alias: '',
      before: 'a',
    });
    assert.equal(inverseOf({ kind: 'deleteDefaultRoute' }), undefined, 'nothing records the route a delete removed');
    assert.equal(inverseOf({ kind: 'removeFile', path: '/x' }), undefined);
  });

  it('puts a route ahead of the guest own, onlink, and undoes it by deleting that route alone, whatever was there', () => {
    const ahead: GuestOp = { kind: 'setDefaultRoute', gateway: '172.17.3.2', dev: 'eth0', before: undefined, ahead: true };
    assert.deepEqual(ipLinesOf(ahead), ['route prepend default via 172.17.3.2 dev eth0 onlink']);
    const undo = inverseOf(ahead);
    assert.deepEqual(undo, { kind: 'deleteDefaultRoute', before: { gateway: '172.17.3.2', dev: 'eth0' } });
    assert.deepEqual(ipLinesOf(undo as GuestOp), ['route del default via 172.17.3.2 dev eth0']);
    const aheadOfOne = { ...ahead, before: { gateway: '192.0.2.1', dev: 'eth1' } };
    assert.deepEqual(inverseOf(aheadOfOne), undo, 'the route it went ahead of stays: nothing to put back');
  });

  it('sends each op to the ip batch of its family', () => {
    assert.equal(familyOf({ kind: 'addAddress', name: 'wlan0', cidr: 'fd00::ac11:303/64' }), 6);
    assert.equal(familyOf({ kind: 'deleteAddress', name: 'wlan0', cidr: '172.17.3.3/16' }), 4);
    assert.equal(familyOf({ kind: 'setDefaultRoute', gateway: 'fd00::1', dev: 'wlan0', before: undefined }), 6);
    assert.equal(familyOf({ kind: 'deleteDefaultRoute', family: 6 }), 6);
    assert.equal(familyOf({ kind: 'addMainRule', priority: 9999 }), 4);
    assert.equal(familyOf({ kind: 'linkUp', name: 'wlan0' }), 4);
  });

  it('writes each op as ip -batch lines: a rename takes the link down first, IPv6 addresses skip DAD, files have none', () => {
    const lines = (op: GuestOp) => ipLinesOf(op);
    assert.deepEqual(lines({ kind: 'renameLink', from: 'vm_wlan0', to: 'wlan0' }), [
      'link set dev vm_wlan0 down',
      'link set dev vm_wlan0 name wlan0',
    ]);
    assert.deepEqual(lines({ kind: 'addAddress', name: 'wlan0', cidr: 'fd00::ac11:303/64' }), [
      'address add fd00::ac11:303/64 dev wlan0 nodad',
    ]);
    assert.deepEqual(lines({ kind: 'addAddress', name: 'wlan0', cidr: '172.17.3.3/16' }), ['address add 172.17.3.3/16 dev wlan0']);
    assert.deepEqual(lines({ kind: 'setAlias', name: 'wlan0', alias: '', before: 'x' }), ['link set dev wlan0 alias ""']);
    assert.deepEqual(lines({ kind: 'setDefaultRoute', gateway: '172.17.3.2', dev: 'wlan0', before: undefined }), [
      'route replace default via 172.17.3.2 dev wlan0',
    ]);
    assert.deepEqual(lines({ kind: 'deleteMainRule', priority: 9999 }), ['rule del priority 9999 lookup main']);
    assert.deepEqual(lines({ kind: 'setMtu', name: 'wlan0', mtu: 1400, before: 1500 }), ['link set dev wlan0 mtu 1400']);
    assert.deepEqual(lines({ kind: 'writeDnsFile', path: '/x', content, before, synced: false }), []);
    assert.deepEqual(lines({ kind: 'removeFile', path: '/x' }), []);
  });
});
