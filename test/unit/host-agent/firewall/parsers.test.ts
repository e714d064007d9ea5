import assert from 'node:assert/strict';
import { type GuestRule, parseIptablesSave, parseNftTable } from '@guestnet/host-agent';

const rule: GuestRule = {
  hostIf: 'vm_wlan',
  linkFamily: 'vm_wlan+',
  pool: '172.17.0.0/16',
  guestAddress: '172.17.3.3',
  gateway: '172.17.3.2',
  uplink: 'wlan0',
  openToGuests: false,
  forwards: [],
};
const adb = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };

// Trimmed from `nft -j list table ip guestnet` on this kernel.
const nftJson = (elements: {
  links: string[];
  pairs: string[][];
  sources: Array<[string, string]>;
  open?: string[];
  forwards?: unknown[];
  dns?: string[][];
}) =>
  JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'ip', name: 'guestnet', handle: 1 } },
      { set: { family: 'ip', name: 'guest_links', table: 'guestnet', type: 'ifname', handle: 1, elem: elements.links } },
      {
        set: {
          family: 'ip',
          name: 'forward_pairs',
          table: 'guestnet',
          type: ['ifname', 'ifname'],
          handle: 2,
          elem: elements.pairs.map((p) => ({ concat: p })),
        },
      },
      {
        set: {
          family: 'ip',
          name: 'masquerade_sources',
          table: 'guestnet',
          type: ['ipv4_addr', 'ifname'],
          handle: 3,
          elem: elements.sources.map((p) => ({ concat: p })),
        },
      },
      {
        set: {
          family: 'ip',
          name: 'open_links',
          table: 'guestnet',
          type: 'ifname',
          handle: 4,
          ...(elements.open ? { elem: elements.open } : {}),
        },
      },
      {
        set: {
          family: 'ip',
          name: 'dns_servers',
          table: 'guestnet',
          type: ['ifname', 'ipv4_addr'],
          handle: 7,
          elem: (elements.dns ?? elements.links.map((link) => [link, '172.17.3.2'])).map((p) => ({ concat: p })),
        },
      },
      {
        map: {
          family: 'ip',
          name: 'port_forwards',
          table: 'guestnet',
          type: ['inet_proto', 'inet_service'],
          map: ['ipv4_addr', 'inet_service'],
          handle: 5,
          ...(elements.forwards ? { elem: elements.forwards } : {}),
        },
      },
      {
        chain: { family: 'ip', table: 'guestnet', name: 'forward', handle: 6, type: 'filter', hook: 'forward', prio: 0, policy: 'accept' },
      },
    ],
  });

describe('firewall observation parsers', () => {
  describe('nftables', () => {
    it('knows a guest whose every element is there, and not one whose pair is missing', () => {
      const state = parseNftTable(
        nftJson({
          links: ['vm_wlan', 'vm_wlan1'],
          pairs: [['vm_wlan', 'wlan0']],
          sources: [
            ['172.17.3.3', 'wlan0'],
            ['172.17.3.4', 'wlan0'],
          ],
        }),
      );
      assert.equal(state.installed, true);
      assert.equal(state.has(rule), true);
      assert.equal(state.has({ ...rule, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4' }), false);
      assert.equal(state.has({ ...rule, uplink: 'rmnet0' }), false);
    });

    it('reads open links and port-forward map entries', () => {
      const forwards = [[{ concat: ['tcp', 5555] }, { concat: ['172.17.3.3', 5555] }]];
      const state = parseNftTable(
        nftJson({ links: ['vm_wlan'], pairs: [['vm_wlan', 'wlan0']], sources: [['172.17.3.3', 'wlan0']], open: ['vm_wlan'], forwards }),
      );
      assert.equal(state.has({ ...rule, openToGuests: true, forwards: [adb] }), true);
      assert.equal(state.has({ ...rule, openToGuests: false, forwards: [adb] }), false, 'open_links must match exactly');
      assert.equal(state.has({ ...rule, openToGuests: true, forwards: [{ ...adb, guestPort: 5037 }] }), false);
    });

    it('reads a forward bound to one host address from its own map', () => {
      const at = { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80, hostAddress: '198.51.100.2' };
      const json = JSON.parse(nftJson({ links: ['vm_wlan'], pairs: [['vm_wlan', 'wlan0']], sources: [['172.17.3.3', 'wlan0']] }));
      json.nftables.push({
        map: {
          family: 'ip',
          name: 'port_forwards_at',
          table: 'guestnet',
          type: ['ipv4_addr', 'inet_proto', 'inet_service'],
          map: ['ipv4_addr', 'inet_service'],
          handle: 9,
          elem: [[{ concat: ['198.51.100.2', 'tcp', 8081] }, { concat: ['172.17.3.3', 80] }]],
        },
      });
      const state = parseNftTable(JSON.stringify(json));
      assert.equal(state.has({ ...rule, forwards: [at] }), true);
      assert.equal(state.has({ ...rule, forwards: [{ ...at, hostAddress: '198.51.100.3' }] }), false);
      assert.equal(
        state.has({ ...rule, forwards: [{ protocol: 'tcp', hostPort: 8081, guestPort: 80 }] }),
        false,
        'an everywhere forward is another entry',
      );
    });

    it('treats sets without elements as empty', () => {
      const state = parseNftTable(nftJson({ links: [], pairs: [], sources: [] }));
      assert.equal(state.installed, true);
      assert.equal(state.has(rule), false);
    });
  });

  describe('iptables', () => {
    const chains = [
      '*filter',
      ':GUESTNET-FORWARD - [0:0]',
      ':GUESTNET-OPEN - [0:0]',
      ':GUESTNET-OPEN-TO - [0:0]',
      ':GUESTNET-INPUT - [0:0]',
      '-A INPUT -j GUESTNET-INPUT',
      '-A FORWARD -j GUESTNET-FORWARD',
    ];
    const familyRules = [
      '-A GUESTNET-FORWARD -i vm_wlan+ -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
      '-A GUESTNET-FORWARD -o vm_wlan+ -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
      '-A GUESTNET-FORWARD -i vm_wlan+ -m conntrack --ctstate INVALID -j DROP',
      '-A GUESTNET-FORWARD -o vm_wlan+ -m conntrack --ctstate INVALID -j DROP',
      '-A GUESTNET-FORWARD -i vm_wlan+ -o wlan0 -j ACCEPT',
      '-A GUESTNET-FORWARD -i wlan0 -o vm_wlan+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A GUESTNET-FORWARD -o vm_wlan+ -m conntrack --ctstate DNAT -j ACCEPT',
      '-A GUESTNET-FORWARD -o vm_wlan+ -j DROP',
      '-A GUESTNET-FORWARD -i vm_wlan+ -j DROP',
      '-A GUESTNET-INPUT -i vm_wlan+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A GUESTNET-INPUT -d 172.17.3.2/32 -i vm_wlan+ -p udp -m udp --dport 53 ' +
        '-m hashlimit --hashlimit-above 200/sec --hashlimit-burst 200 --hashlimit-mode srcip --hashlimit-name guestnet-dns -j DROP',
      '-A GUESTNET-INPUT -d 172.17.3.2/32 -i vm_wlan+ -p udp -m udp --dport 53 -j ACCEPT',
      '-A GUESTNET-INPUT -d 172.17.3.2/32 -i vm_wlan+ -p tcp -m tcp --dport 53 -j ACCEPT',
      '-A GUESTNET-INPUT -i vm_wlan+ -j DROP',
    ];
    const nat = [
      '*nat',
      ':GUESTNET-POSTROUTING - [0:0]',
      ':GUESTNET-PREROUTING - [0:0]',
      ':GUESTNET-OUTPUT - [0:0]',
      '-A PREROUTING -m addrtype --dst-type LOCAL -j GUESTNET-PREROUTING',
      '-A OUTPUT -m addrtype --dst-type LOCAL -j GUESTNET-OUTPUT',
      '-A POSTROUTING -j GUESTNET-POSTROUTING',
      '-A GUESTNET-POSTROUTING -s 172.17.0.0/16 -o wlan0 -j MASQUERADE',
      '-A GUESTNET-POSTROUTING -s 172.17.0.0/16 -o vm_wlan+ -m conntrack --ctstate DNAT -j MASQUERADE',
    ];

    it('sees the chains, the jumps and a family of guests as installed', () => {
      const state = parseIptablesSave([...chains, ...familyRules, 'COMMIT', ...nat, 'COMMIT'].join('\n'));
      assert.equal(state.installed, true);
      assert.equal(state.has(rule), true);
      assert.equal(state.has({ ...rule, hostIf: 'vm_wlan7', guestAddress: '172.17.3.9' }), true, 'a family member shares the rules');
      assert.equal(state.has({ ...rule, uplink: 'rmnet0' }), false);
    });

    it('is not installed when a jump was flushed, and reads comments of port forwards quoted', () => {
      const withoutJump = [...chains.filter((l) => !l.startsWith('-A FORWARD')), ...familyRules, ...nat].join('\n');
      assert.equal(parseIptablesSave(withoutJump).installed, false);
      assert.equal(parseIptablesSave(withoutJump).leftovers, true, 'its other jumps are left over');
      assert.equal(parseIptablesSave('*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*nat\nCOMMIT').leftovers, false, 'nothing of ours');
      const forward =
        '-A GUESTNET-PREROUTING -p tcp -m tcp --dport 5555 -m comment --comment "guestnet:vm_wlan" -j DNAT --to-destination 172.17.3.3:5555';
      const output = forward.replace('PREROUTING', 'OUTPUT');
      const state = parseIptablesSave([...chains, ...familyRules, ...nat, forward, output].join('\n'));
      assert.equal(state.has({ ...rule, forwards: [adb] }), true);
      assert.equal(state.has({ ...rule, forwards: [{ ...adb, hostPort: 5556 }] }), false);
    });
  });
});
