import assert from 'node:assert/strict';
import { type PhysRecord, passingName, planAttach, planDetach, RecordingRunner, driverFor, nftables } from '@guestnet/host-agent';
import { UsageError } from '@guestnet/protocol';
import { lanHost, physRecord, undoKinds } from '../../../fixtures/typed-records.js';

// A NIC handed to the guest and given back: the record is kept until the NIC
// is back or its guest is gone; nothing is handed over twice.

const phys = physRecord();
/** The host once the NIC has left it. */
const handedOver = (records = [phys]) => {
  const host = lanHost(records);
  host.links = new Set(['lo', 'wlan0', 'eth1', 'br0']);
  return host;
};

describe('drivers/phys: a NIC handed over and given back', () => {
  it('writes the record before the NIC moves, and marks it in transit so it can be told from a link that takes its name', () => {
    const attach = planAttach(lanHost(), phys);
    assert.deepEqual(
      attach.map((o) => o.kind),
      ['writeRecord', 'movePhys'],
    );
    assert.deepEqual(undoKinds(attach), ['unmarkPhys', 'deleteRecord']);
  });

  it('gives the NIC back and forgets the record in the same round, once the NIC is seen on the host', () => {
    const back = planDetach(handedOver(), phys, { guestAlive: true, onHost: passingName(phys) });
    assert.deepEqual(
      back.map((o) => o.kind),
      ['restorePhys', 'deleteRecord'],
    );
    const fetched = planDetach(handedOver(), phys, { guestAlive: true, inGuest: 'eth0' });
    assert.ok(!fetched.some((o) => o.kind === 'deleteRecord'), 'while the NIC is in the guest, the record stays');
  });

  it('never plans a detach without knowing where the NIC is', () => {
    assert.throws(() => planDetach(lanHost([phys]), phys), /needs to know where its NIC is/);
  });

  it('does not hand over again a NIC marked with its token (in transit), nor one of an older record that left the host', () => {
    const inTransit = { ...lanHost([phys]), aliases: new Map([['eth2', phys.token]]) };
    assert.deepEqual(planAttach(inTransit, phys, { guest: { ourLink: false, loopbackUp: true, nicOnHost: true } }), []);
    const older = { ...phys, phys: { ...phys.phys, nic: undefined } } as PhysRecord;
    assert.deepEqual(planAttach(handedOver([older]), older), []);
  });

  it('refuses an attach without --link before it looks at anything', async () => {
    const runner = new RecordingRunner();
    const settings = { type: 'phys', link: undefined } as unknown as Parameters<ReturnType<typeof driverFor>['prepare']>[0]['settings'];
    await assert.rejects(
      driverFor('phys').prepare({
        guest: { id: '300', pid: 300, netnsPath: '/proc/300/ns/net', netns: 'net:[1]' },
        settings,
        records: [],
        existing: undefined,
        runner,
        ctx: { firewall: nftables, stateDir: '/nonexistent' } as Parameters<ReturnType<typeof driverFor>['prepare']>[0]['ctx'],
        extras: {},
      }),
      (e: unknown) => e instanceof UsageError && e.message === '--type phys needs --link',
    );
    assert.deepEqual(runner.reads, []);
  });
});

describe("drivers/phys: a NIC's alias it could not give back", () => {
  // The alias goes back in an `ip -batch` line, quoted: a record holding one with a quote, a
  // backslash or a newline could not be read back, and every later command, detach among them, failed.
  it('refuses to hand over a NIC whose alias could not be restored, before anything is written', () => {
    for (const alias of ['uplink "office"', 'a\\b', 'a\nb', 'x'.repeat(201)]) {
      const nic = physRecord();
      const odd = { ...nic, phys: { ...nic.phys, alias } };
      assert.throws(
        () => planAttach(lanHost(), odd),
        (e: unknown) => e instanceof UsageError && /^--link eth2 has an alias guestnet could not give back/.test(e.message),
        JSON.stringify(alias),
      );
    }
    const plain = physRecord();
    assert.deepEqual(planAttach(lanHost(), { ...plain, phys: { ...plain.phys, alias: 'office uplink' } })[0]?.kind, 'writeRecord');
  });
});
