import assert from 'node:assert/strict';
import { proxyNdpBeforePath, recordPath, statePaths } from '@guestnet/host-agent';

describe('state paths', () => {
  it('puts every file of the state dir at one place each', () => {
    assert.deepEqual(statePaths('/run/guestnet'), {
      attachments: '/run/guestnet/attachments',
      ipForwardBefore: '/run/guestnet/ip_forward.before',
      ipv6ForwardingBefore: '/run/guestnet/ipv6_forwarding.before',
      pidFile: '/run/guestnet/serve.pid',
      controlSocket: '/run/guestnet/control.sock',
      radvdConfig: '/run/guestnet/radvd.conf',
      radvdPid: '/run/guestnet/radvd.pid',
    });
    assert.equal(recordPath('/run/guestnet/', '4242'), '/run/guestnet/attachments/4242.json');
    assert.equal(proxyNdpBeforePath('/run/guestnet', 'wlan0'), '/run/guestnet/proxy_ndp.wlan0.before');
  });
});
