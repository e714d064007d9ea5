import assert from 'node:assert/strict';
import { type BridgedVethRecord, interfaceId, nftables, portGuardScript, stepsOf } from '@guestnet/host-agent';
import { typedRecord } from '../../../fixtures/records.js';

const bridged = (overrides = {}) =>
  typedRecord<BridgedVethRecord>({
    pid: 300,
    type: 'veth',
    link: 'br0',
    hostIf: 'vm_wlan',
    guestAddress: '192.168.77.50',
    guestMac: '02:00:c0:a8:4d:32',
    portSecurity: true,
    ...overrides,
  });

describe("a bridged guest's port lock", () => {
  it('the interface identifier SLAAC makes from a MAC: the universal/local bit flipped, ff:fe in the middle', () => {
    assert.deepEqual(interfaceId('02:00:c0:a8:4d:32'), [0x00, 0x00, 0xc0, 0xff, 0xfe, 0xa8, 0x4d, 0x32]);
    assert.deepEqual(interfaceId('00:1b:21:3a:4f:10'), [0x02, 0x1b, 0x21, 0xff, 0xfe, 0x3a, 0x4f, 0x10]);
  });

  it('replaces any table of its name in one transaction, and passes only the guest: its MAC, its ARP, its addresses', () => {
    assert.equal(
      portGuardScript(bridged()),
      [
        'add table bridge guestnet_port_300',
        'delete table bridge guestnet_port_300',
        'table bridge guestnet_port_300 {',
        '  set ipv4 { typeof ip saddr; elements = { 192.168.77.50 } }',
        '  chain from_guest {',
        '    type filter hook prerouting priority -300; policy accept;',
        '    iifname != "vm_wlan" accept',
        '    ether saddr != 02:00:c0:a8:4d:32 drop',
        '    ether type vmap { arp : jump arp_from_guest, ip : jump ip_from_guest, ip6 : jump ip6_from_guest }',
        '    drop',
        '  }',
        '  chain arp_from_guest {',
        '    arp htype 1 arp ptype ip arp saddr ether 02:00:c0:a8:4d:32 arp saddr ip 0.0.0.0 accept',
        '    arp htype 1 arp ptype ip arp saddr ether 02:00:c0:a8:4d:32 arp saddr ip @ipv4 accept',
        '    drop',
        '  }',
        '  chain ip_from_guest {',
        '    udp sport 67 drop',
        '    ip saddr @ipv4 accept',
        '    ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept',
        '    drop',
        '  }',
        '  chain ip6_from_guest {',
        '    icmpv6 type { nd-router-advert, nd-redirect } drop',
        '    udp sport 547 drop',
        '    icmpv6 type nd-neighbor-advert @th,128,64 != 0x0000c0fffea84d32 drop',
        '    ip6 saddr :: icmpv6 type nd-neighbor-solicit @th,128,64 0x0000c0fffea84d32 accept',
        '    ip6 saddr :: icmpv6 type { mld-listener-report, mld2-listener-report } accept',
        '    ip6 saddr & ::ffff:ffff:ffff:ffff ::0:c0ff:fea8:4d32 accept',
        '    drop',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it("a DHCP guest's addresses are those the LAN's DHCP server hands its MAC, on their way to its port", () => {
    const script = portGuardScript(bridged({ dhcp: true, guestAddress: '0.0.0.0' }));
    assert.match(script, /\n {2}set ipv4 \{ typeof ip saddr; size 16; flags dynamic; \}\n/);
    for (const hook of ['forward', 'output'])
      assert.match(
        script,
        new RegExp(
          ` {2}chain leases_${hook} \\{\n {4}type filter hook ${hook} priority -300; policy accept;\n` +
            ' {4}oifname "vm_wlan" udp sport 67 udp dport 68 @th,288,48 0x0200c0a84d32 @th,192,32 != 0 add @ipv4 \\{ @th,192,32 \\}\n',
        ),
      );
    assert.doesNotMatch(script, /0\.0\.0\.0 \}/, 'no address is allowed before a lease');
  });

  it('is one nft process; a kernel without bridge filtering is named, and the opt-out with it', () => {
    const [step, ...rest] = stepsOf({ kind: 'addPortGuard', record: bridged() }, { firewall: nftables, stateDir: '/state' });
    assert.equal(rest.length, 0);
    assert.ok(step?.kind === 'run');
    assert.deepEqual(step.argv, ['nft', '-f', '-']);
    assert.ok(step.unsupported?.when.test('Error: Could not process rule: Operation not supported'));
    assert.match(
      step.unsupported?.message ?? '',
      /^this kernel cannot filter frames on a bridge \(CONFIG_NF_TABLES_BRIDGE\).*--port-security off/,
    );
  });
});
