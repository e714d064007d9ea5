import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestServices, RealRunner, RecordStore } from '@guestnet/host-agent';
import { sampleRecord } from '../../../fixtures/records.js';

// What the daemon serves guests besides their sessions follows the record
// store, and a failure to serve is the daemon's log line, never its error.

describe('the guest services of the daemon', () => {
  let stateDir: string;
  let logged: Array<[string, string]>;
  let services: GuestServices;
  let store: RecordStore;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'));
    logged = [];
    store = new RecordStore(stateDir);
    await store.revalidate();
    services = new GuestServices(store, stateDir, (level, message) => logged.push([level, message]), join(stateDir, 'no-netd'));
  });
  afterEach(async () => {
    for (const release of services.releases) await release();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('serves nothing and says nothing while there is no guest', async () => {
    await services.serve();
    assert.deepEqual(logged, []);
    assert.equal(services.dhcp.leaseOf(sampleRecord()), undefined);
  });

  it('a gateway this host does not carry yet (a link still coming up) is no failure: it is served once it is there', async () => {
    await store.apply({ kind: 'writeRecord', record: sampleRecord({ hostAddress: '192.0.2.77' }) }, new RealRunner());
    await services.serve();
    assert.deepEqual(logged, []);
  });

  it('lets go of each service, also when none was ever served, and again', async () => {
    assert.equal(services.releases.length, 3);
    for (const release of services.releases) await release();
  });
});
