import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Radvd, radvdVersion } from '@guestnet/host-agent';

describe('router advertisements: the radvd child', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-radvd-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const radvd = (binary: string) => new Radvd({ configPath: join(dir, 'radvd.conf'), pidPath: join(dir, 'radvd.pid'), binary });

  it('without radvd (an Android host), says so in one line with the missing-tool exit code', async () => {
    const missing = radvd('guestnet-no-such-radvd');
    await assert.rejects(
      missing.apply([{ link: 'vm_wlan', prefix: '2001:db8:3:10::/64', rdnss: [], mtu: 1400 }]),
      (error: Error & { exitCode?: number }) =>
        error.exitCode === 5 && error.message === "'guestnet-no-such-radvd' was not found in PATH; install radvd (apt install radvd)",
    );
    assert.equal(missing.pid, undefined);
    assert.equal(await radvdVersion('guestnet-no-such-radvd'), undefined);
  });

  it('with no link to advertise on and nothing running, does nothing', async () => {
    const idle = radvd('guestnet-no-such-radvd');
    await idle.apply([]);
    await idle.stop('keep');
    assert.equal(idle.pid, undefined);
  });
});
