import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipv6Check, RecordingRunner, resolveSettings } from '@guestnet/host-agent';

// Whether guests will get IPv6: off needs no look; a host with no IPv6 to
// share only warns under auto (guests get IPv4), and fails where nat or
// routed was asked for.

describe('doctor/ipv6: whether guests get IPv6', () => {
  let stateDir: string;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));
  const settings = (ipv6: string) => ({
    ...resolveSettings({}, { ipv6, ...(ipv6 === 'routed' ? { pool6: '2001:db8:1::/64' } : {}) }, 'test'),
    stateDir,
  });

  it('says IPv4 only with --ipv6 off, without looking at the host', async () => {
    const runner = new RecordingRunner();
    assert.deepEqual(await ipv6Check(settings('off'), runner), [
      { check: 'ipv6', status: 'ok', detail: 'off (--ipv6 off): guests get IPv4 only' },
    ]);
    assert.deepEqual(runner.reads, []);
  });

  it('warns under auto on a host with no IPv6 default route, and fails where nat or routed was asked for', async () => {
    const noRoute = () => new RecordingRunner({ 'ip -6 -j route show table all default': '[]' });
    const [auto] = await ipv6Check(settings('auto'), noRoute());
    assert.equal(auto?.status, 'warn');
    assert.match(auto?.detail ?? '', /: guests get IPv4 only$/);
    assert.ok(auto?.fix);
    for (const mode of ['nat', 'routed']) assert.equal((await ipv6Check(settings(mode), noRoute()))[0]?.status, 'fail', mode);
  });
});
