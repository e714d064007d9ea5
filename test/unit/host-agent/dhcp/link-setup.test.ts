import assert from 'node:assert/strict';
import { neighbourLines, neighbourRemovalLines } from '@guestnet/host-agent';

describe('DHCP link setup', () => {
  it("pins the guest's address to its MAC on its link, and removes exactly that entry", () => {
    const guest = { link: 'vm_wlan0', mac: '02:67:6e:11:03:03', address: '172.17.3.3' };
    assert.deepEqual(neighbourLines(guest), ['neigh replace 172.17.3.3 lladdr 02:67:6e:11:03:03 dev vm_wlan0 nud permanent']);
    assert.deepEqual(neighbourRemovalLines(guest), ['neigh del 172.17.3.3 dev vm_wlan0']);
  });
});
