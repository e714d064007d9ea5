import assert from 'node:assert/strict';
import { existingLinksWithAliases, RecordingRunner, routesCovering } from '@guestnet/host-agent';

// `ip -4 -j route show` in a netns with eth0 on 192.0.2.0/24, a default route, a route via a gateway and a blackhole.
const ROUTES = JSON.stringify([
  { dst: 'default', gateway: '192.0.2.1', dev: 'eth0', metric: 100, flags: [] },
  { dst: '192.0.2.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.0.2.10', flags: [] },
  { dst: '198.51.100.0/24', gateway: '192.0.2.1', dev: 'eth0', flags: [] },
  { type: 'blackhole', dst: '203.0.113.0/24', flags: [] },
]);

describe('observing the host', () => {
  it('finds the routes of main that cover an address, the default route and routes without a link aside', async () => {
    const runner = new RecordingRunner({ 'ip -4 -j route show': ROUTES });
    assert.deepEqual(await routesCovering(runner, '192.0.2.77'), [{ dst: '192.0.2.0/24', dev: 'eth0' }]);
    assert.deepEqual(await routesCovering(runner, '198.51.100.255'), [{ dst: '198.51.100.0/24', dev: 'eth0' }]);
    assert.deepEqual(await routesCovering(runner, '203.0.113.5'), [], 'a blackhole has no link');
    assert.deepEqual(await routesCovering(runner, '172.17.3.3'), [], 'only the default route covers it');
  });

  it('reads which links exist with their alias and MTU from sysfs, one missing being simply absent', async () => {
    const seen = await existingLinksWithAliases(['lo', 'gnnosuchlink']);
    assert.deepEqual([...seen.links], ['lo']);
    assert.equal(seen.mtus.get('lo'), 65536);
    assert.equal(seen.aliases.has('gnnosuchlink'), false);
    assert.equal(seen.groups.size, 0);
  });
});
