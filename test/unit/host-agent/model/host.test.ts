import assert from 'node:assert/strict';
import { defaultRouteInterface, ipv6Uplink, pathMtu, type PolicyState } from '@guestnet/host-agent';

const policy = (defaults: PolicyState['defaults']): PolicyState => ({ defaults, rules: [], localNetwork: new Set() });

describe('the host model', () => {
  it('takes the default route of the lowest metric as the uplink, a route without one as metric 0', () => {
    assert.equal(
      defaultRouteInterface([
        { dst: '192.0.2.0/24', dev: 'eth1' },
        { dst: 'default', dev: 'eth0', metric: 100 },
        { dst: 'default', dev: 'wlan0', metric: 600 },
      ]),
      'eth0',
    );
    assert.equal(
      defaultRouteInterface([
        { dst: 'default', dev: 'eth0', metric: 100 },
        { dst: 'default', dev: 'usb0' },
      ]),
      'usb0',
    );
    assert.equal(defaultRouteInterface([{ dst: '192.0.2.0/24', dev: 'eth1' }]), undefined);
    assert.equal(
      ipv6Uplink({
        defaults: [
          { dst: 'default', dev: 'wlan0', metric: 600 },
          { dst: 'default', dev: 'eth0', metric: 1024 },
        ],
      }),
      'wlan0',
    );
  });

  it("takes the smallest of the link's MTU and its default routes' MTUs as the path MTU", () => {
    const mtus = new Map([['wlan0', 1500]]);
    assert.equal(pathMtu({ mtus, policy: policy([]) }, 'wlan0'), 1500);
    assert.equal(pathMtu({ mtus, policy: policy([{ dev: 'wlan0', table: '1003', mtu: 1400 }]) }, 'wlan0'), 1400);
    assert.equal(pathMtu({ mtus, policy: policy([{ dev: 'rmnet0', table: '1002', mtu: 1280 }]) }, 'wlan0'), 1500, 'another link');
    assert.equal(pathMtu({ mtus: new Map(), policy: policy([{ dev: 'wlan0', table: 'main', mtu: 1420 }]) }, 'wlan0'), 1420);
    assert.equal(pathMtu({ mtus: new Map(), policy: policy([]) }, 'wlan0'), undefined);
  });
});
