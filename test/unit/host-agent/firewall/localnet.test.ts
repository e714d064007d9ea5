import assert from 'node:assert/strict';
import { type FirewallContent, type GuestRule, iptables, nftables } from '@guestnet/host-agent';

// Published ports at 127.0.0.1: route_localnet on exactly the links whose
// guests take such connections, set before their rules and cleared after them
// (the undo is the same change reversed), and the rules that go with it.

const guest = (hostIf: string, forwards: GuestRule['forwards']): GuestRule => ({
  hostIf,
  linkFamily: 'vm_wlan+',
  pool: '172.17.0.0/16',
  guestAddress: '172.17.3.3',
  gateway: '172.17.3.2',
  uplink: 'wlan0',
  openToGuests: false,
  forwards,
});
const web = { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80 };
const none: FirewallContent = { installed: false, bridgedPorts: [], guests: [] };
const installed = (...guests: GuestRule[]): FirewallContent => ({ installed: true, bridgedPorts: [], guests });
const localnet = (hostIf: string) => `/proc/sys/net/ipv4/conf/${hostIf}/route_localnet`;

for (const firewall of [nftables, iptables('iptables'), iptables('iptables-legacy')])
  describe(`firewall/localnet: route_localnet for published ports (${firewall.name})`, () => {
    it('sets it on a link whose guest publishes a port on every address or on 127.0.0.1, before the rules', () => {
      const after = installed(guest('vm_wlan1', [web]), guest('vm_wlan2', [{ ...web, hostPort: 8083, hostAddress: '127.0.0.1' }]));
      const steps = firewall.change(none, after);
      assert.deepEqual(
        steps.slice(0, 2).map((s) => (s.kind === 'sysctl' ? [s.path, s.value] : s.kind)),
        [
          [localnet('vm_wlan1'), '1'],
          [localnet('vm_wlan2'), '1'],
        ],
      );
      assert.equal(steps.filter((s) => s.kind === 'sysctl').length, 2);
    });

    it('leaves links alone whose guests publish nothing, or only on another address', () => {
      const after = installed(guest('vm_wlan1', []), guest('vm_wlan2', [{ ...web, hostAddress: '198.51.100.2' }]));
      assert.deepEqual(
        firewall.change(none, after).filter((s) => s.kind === 'sysctl'),
        [],
      );
    });

    it('clears it after the rules when the last such port goes, and the undo sets it again first', () => {
      const [before, after] = [installed(guest('vm_wlan1', [web])), installed(guest('vm_wlan1', []))];
      const steps = firewall.change(before, after);
      const last = steps.at(-1);
      assert.deepEqual(last?.kind === 'sysctl' ? [last.path, last.value] : last, [localnet('vm_wlan1'), '0']);
      const undo = firewall.change(after, before);
      assert.deepEqual(undo[0]?.kind === 'sysctl' ? [undo[0].path, undo[0].value] : undo[0], [localnet('vm_wlan1'), '1']);
    });

    it('masquerades loopback sources to guest links and never forwards a packet addressed to a loopback address', () => {
      const text = firewall
        .change(none, installed(guest('vm_wlan1', [web])))
        .map((s) => (s.kind === 'run' ? (s.input ?? '') : ''))
        .join('\n');
      if (firewall.name === 'nftables') {
        assert.match(text, /oifname @guest_links ip saddr 127\.0\.0\.0\/8 masquerade/);
        assert.match(text, /dstnat; policy accept;\n\t\tip daddr 127\.0\.0\.0\/8 return\n/);
      } else {
        assert.match(text, /^-A GUESTNET-POSTROUTING -s 127\.0\.0\.0\/8 -o vm_wlan\+ -j MASQUERADE$/m);
        const guard = text.indexOf('\n-A GUESTNET-PREROUTING -d 127.0.0.0/8 -j RETURN\n');
        assert.ok(guard > 0 && guard < text.indexOf('\n-A GUESTNET-PREROUTING -p tcp'), 'the guard comes before the DNAT');
      }
    });
  });
