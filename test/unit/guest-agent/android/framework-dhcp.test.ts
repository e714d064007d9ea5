import assert from 'node:assert/strict';
import { leaseInKernel } from '@guestnet/guest-agent';

describe("Android's framework lease, as the kernel shows it", () => {
  const addresses = (info: object[]) => JSON.stringify([{ ifname: 'eth0', addr_info: info }]);

  it('is the global IPv4 address and the default route through the link, whatever table netd put it in', () => {
    const output = [
      addresses([{ local: '192.168.77.120', prefixlen: 24, scope: 'global' }]),
      JSON.stringify([{ dst: 'default', gateway: '192.168.77.1', dev: 'eth0', table: 'eth0' }]),
    ].join('\n');
    assert.deepEqual(leaseInKernel(output), { address: '192.168.77.120', prefixLength: 24, gateway: '192.168.77.1', dns: [] });
  });

  it('is not there yet while IpClient has set the address but no route, or nothing at all', () => {
    assert.equal(leaseInKernel([addresses([{ local: '192.168.77.120', prefixlen: 24, scope: 'global' }]), '[]'].join('\n')), undefined);
    assert.equal(leaseInKernel([addresses([]), JSON.stringify([{ dst: 'default', gateway: '192.168.77.1' }])].join('\n')), undefined);
    assert.equal(leaseInKernel(['[]', '[]'].join('\n')), undefined);
  });
});
