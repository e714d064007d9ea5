import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostResolvers, upstreamsIn } from '@guestnet/host-agent';

describe('DNS forwarder: the host resolvers', () => {
  it('reads both families and a loopback stub, and at most four', () => {
    const conf =
      'search lan\nnameserver 127.0.0.53\nnameserver 2001:db8::53\nnameserver fe80::1%wlan0\n' +
      'nameserver not-an-address\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n';
    assert.deepEqual(upstreamsIn(conf), ['127.0.0.53', '2001:db8::53', 'fe80::1%wlan0', '192.0.2.1']);
  });

  it('follows a rewrite of the file, and a file that goes away', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gn-resolv-'));
    const path = join(dir, 'resolv.conf');
    try {
      await writeFile(path, 'nameserver 192.0.2.1\n');
      const resolvers = new HostResolvers(path, join(dir, 'no-netd'));
      assert.deepEqual(await resolvers.current(), { servers: ['192.0.2.1'] });
      await writeFile(path, 'nameserver 192.0.2.2\nnameserver 192.0.2.3\n');
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual(await resolvers.current(), { servers: ['192.0.2.2', '192.0.2.3'] });
      await rm(path);
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual(await resolvers.current(), { servers: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
