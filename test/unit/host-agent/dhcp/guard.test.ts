import assert from 'node:assert/strict';
import { DHCP_GUARD_DELETE_SCRIPT, dhcpGuardRemovalScript, dhcpGuardScript } from '@guestnet/host-agent';
import { GUEST } from './packets.js';

describe('DHCP kernel guard', () => {
  const elements = [
    'add element ip guestnet_dhcp links { "vm_wlan" }',
    'add element ip guestnet_dhcp clients { "vm_wlan" . 0x02676e110303 }',
    'add element ip guestnet_dhcp macs { 0x02676e110303 }',
    'add element ip guestnet_dhcp addresses { 172.17.3.3 }',
    'add element ip guestnet_dhcp destinations { 172.17.3.3 . "vm_wlan" }',
  ];

  it("adds a guest as elements only: its link, its link's MAC, its address and where that address's replies may leave", () => {
    assert.equal(dhcpGuardScript([GUEST], false), `${elements.join('\n')}\n`);
  });

  it('makes the table, with chaddr (@th,288,48) checked per link, only when asked: declared twice, its rules would double', () => {
    const script = dhcpGuardScript([GUEST], true);
    assert.match(script, /^table ip guestnet_dhcp \{/);
    assert.match(script, /udp dport 67 iifname @links iifname \. @th,288,48 != @clients drop/);
    assert.match(script, /udp dport 67 @th,288,48 @macs iifname \. @th,288,48 != @clients drop/);
    assert.match(script, /udp sport 67 udp dport 68 ip daddr @addresses ip daddr \. oifname != @destinations drop/);
    assert.ok(script.endsWith(`${elements.join('\n')}\n`));
  });

  it('removes exactly what it added; the last guest deletes the table', () => {
    assert.equal(dhcpGuardRemovalScript([GUEST]), `${elements.map((e) => e.replace(/^add/, 'delete')).join('\n')}\n`);
    assert.equal(DHCP_GUARD_DELETE_SCRIPT, 'delete table ip guestnet_dhcp\n');
  });
});
