import assert from 'node:assert/strict';
import { type BridgedVethRecord, driverFor, planAttach, planDetach } from '@guestnet/host-agent';
import { NameTakenError } from '@guestnet/protocol';
import { sampleRecord } from '../../../fixtures/records.js';
import { joinedRecord, lanHost, undoKinds } from '../../../fixtures/typed-records.js';

// A veth whose host end is a port of an existing bridge: the port locked
// before it exists, a host link never taken for ours, and detach deleting
// only a port that carries our alias.

const locked = joinedRecord<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_br', portSecurity: true });
const open = joinedRecord<BridgedVethRecord>({ type: 'veth', link: 'br0', hostIf: 'vm_br' });
/** The host with the guest's port made by guestnet (our alias on it). */
const withPort = (record: BridgedVethRecord, alias = 'guestnet-host:300') => ({
  ...lanHost([record], ['vm_br']),
  aliases: new Map([['vm_br', alias]]),
});

describe('drivers/bridged-veth: a guest on a bridge', () => {
  it('detaches as the attach undone in reverse: the port goes before its lock, the record last', () => {
    for (const record of [locked, open]) {
      const attach = planAttach(lanHost(), record);
      assert.equal(attach[0]?.kind, 'writeRecord');
      assert.deepEqual(
        planDetach(withPort(record), record).map((o) => o.kind),
        undoKinds(attach),
        record.portSecurity ? 'locked' : 'open',
      );
    }
  });

  it('never deletes a port that is not ours: a host link that took the name stays, the lock and the record still go', () => {
    assert.deepEqual(
      planDetach(withPort(locked, 'the-hosts-own'), locked).map((o) => o.kind),
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
    assert.deepEqual(planAttach(withPort(locked), locked), []);
  });

  it('says whether the port is locked to the guest, and that guestnet adds no NAT', () => {
    const { token: _, ...shown } = locked;
    const driver = driverFor('bridged-veth');
    assert.equal(driver.describeHost(shown, 'nftables'), 'veth on bridge br0, port vm_br; no NAT; the port is locked to the guest');
    const { token: __, ...shownOpen } = open;
    assert.equal(driver.describeHost(shownOpen, 'nftables'), "veth on bridge br0, port vm_br; no NAT and no rules of guestnet's");
  });
});
