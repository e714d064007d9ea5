import assert from 'node:assert/strict';
import { type GuestRule, NFT_TABLE, NFT_TABLE6, nftables, parseIptablesSave, parseNftTable, RecordingRunner } from '@guestnet/host-agent';

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
const concat = (...keys: Array<string | number>) => ({ concat: keys });

/**
 * A table as `nft -j list table` prints it on this kernel: a set or map item
 * for each of the definition's, and each chain followed by its rules (their
 * expressions left out). `emptied`: a chain the host flushed.
 */
function nftJson(base: string, elements: Record<string, unknown[]>, family = 'ip', emptied?: string): string {
  const table = { family, table: 'guestnet' };
  const items: unknown[] = [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }, { table: { family, name: 'guestnet', handle: 1 } }];
  for (const [, kind, name] of base.matchAll(/^\t(set|map) (\w+) /gm))
    items.push({ [kind as string]: { ...table, name, ...(elements[name as string] ? { elem: elements[name as string] } : {}) } });
  for (const [, name, body] of base.matchAll(/^\tchain (\w+) \{\n\t\ttype [^\n]*\n([\s\S]*?)\n\t\}/gm)) {
    items.push({ chain: { ...table, name } });
    const rules = name === emptied ? 0 : (body ?? '').split('\n').filter((line) => line.trim() !== '').length;
    for (let i = 0; i < rules; i++) items.push({ rule: { ...table, chain: name, expr: [] } });
  }
  return JSON.stringify({ nftables: items });
}

/** The elements attach gives `r`, as nft prints them back. */
const elementsOf = (...rules: GuestRule[]): Record<string, unknown[]> => ({
  guest_links: rules.map((r) => r.hostIf),
  forward_pairs: rules.map((r) => concat(r.hostIf, r.uplink)),
  guest_sources: rules.map((r) => concat(r.hostIf, r.guestAddress)),
  guest_addresses: rules.map((r) => r.guestAddress),
  gateways: [...new Set(rules.map((r) => r.gateway))],
  masquerade_sources: rules.map((r) => concat(r.guestAddress, r.uplink)),
  dns_servers: rules.map((r) => concat(r.hostIf, r.gateway)),
});

describe('firewall observation parsers', () => {
  describe('nftables', () => {
    const second = { ...rule, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4' };

    it('knows a guest whose every element is there, and not one whose pair or source is missing', () => {
      const elements = elementsOf(rule, second);
      const state = parseNftTable(nftJson(NFT_TABLE, { ...elements, forward_pairs: [concat('vm_wlan', 'wlan0')] }));
      assert.equal(state.installed, true);
      assert.equal(state.has(rule), true);
      assert.equal(state.has(second), false);
      assert.equal(state.has({ ...rule, uplink: 'rmnet0' }), false);
      const noSource = parseNftTable(nftJson(NFT_TABLE, { ...elements, guest_sources: [concat('vm_wlan1', '172.17.3.4')] }));
      assert.equal(noSource.has(rule), false, 'the antispoof check of its link is part of a guest');
      assert.equal(parseNftTable(nftJson(NFT_TABLE, { ...elements, gateways: [] })).has(rule), false);
    });

    it('reads open links and port-forward map entries', () => {
      const forwards = [[concat('tcp', 5555), concat('172.17.3.3', 5555)]];
      const state = parseNftTable(nftJson(NFT_TABLE, { ...elementsOf(rule), open_links: ['vm_wlan'], port_forwards: forwards }));
      assert.equal(state.has({ ...rule, openToGuests: true, forwards: [adb] }), true);
      assert.equal(state.has({ ...rule, openToGuests: false, forwards: [adb] }), false, 'open_links must match exactly');
      assert.equal(state.has({ ...rule, openToGuests: true, forwards: [{ ...adb, guestPort: 5037 }] }), false);
    });

    it('reads a forward bound to one host address from its own map', () => {
      const at = { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80, hostAddress: '198.51.100.2' };
      const entry = [concat('198.51.100.2', 'tcp', 8081), concat('172.17.3.3', 80)];
      const state = parseNftTable(nftJson(NFT_TABLE, { ...elementsOf(rule), port_forwards_at: [entry] }));
      assert.equal(state.has({ ...rule, forwards: [at] }), true);
      assert.equal(state.has({ ...rule, forwards: [{ ...at, hostAddress: '198.51.100.3' }] }), false);
      assert.equal(
        state.has({ ...rule, forwards: [{ protocol: 'tcp', hostPort: 8081, guestPort: 80 }] }),
        false,
        'an everywhere forward is another entry',
      );
    });

    it('treats sets without elements as empty', () => {
      const state = parseNftTable(nftJson(NFT_TABLE, {}));
      assert.equal(state.installed, true);
      assert.equal(state.has(rule), false);
    });

    it('counts a table of another shape as not installed: a chain the host flushed, a set an older version lacked', () => {
      assert.equal(parseNftTable(nftJson(NFT_TABLE, elementsOf(rule), 'ip', 'antispoof')).installed, false);
      const older = NFT_TABLE.replace(/^\tset guest_addresses [^\n]*\n/m, '');
      assert.equal(parseNftTable(nftJson(older, elementsOf(rule))).installed, false);
    });

    it('a fresh attach reads the table without its elements: there and in shape, or there in pieces', async () => {
      const observe = (json: string) => nftables.observe(new RecordingRunner({ 'nft -j -t list table ip guestnet': json }), false);
      assert.deepEqual(await observe(nftJson(NFT_TABLE, {})).then((s) => [s.installed, s.found]), [true, undefined]);
      const older = NFT_TABLE.replace(/^\tchain antispoof \{[\s\S]*?\n\t\}\n/m, '');
      assert.deepEqual(await observe(nftJson(older, {})).then((s) => [s.installed, s.found]), [false, { 'ip guestnet': 1 }]);
    });

    it("reads IPv6's table beside IPv4's: a guest with IPv6 is whole only with both", () => {
      const v6 = { guestAddress: 'fd00:1::ac11:303', gateway: 'fd00:1::1', pool: 'fd00:1::/64', uplink: 'wlan0', masquerade: true };
      const with6: GuestRule = { ...rule, ipv6: v6 };
      const elements6 = {
        guest_links: ['vm_wlan'],
        forward_pairs: [concat('vm_wlan', 'wlan0')],
        guest_sources: [concat('vm_wlan', v6.guestAddress)],
        guest_addresses: [v6.guestAddress],
        gateways: [v6.gateway],
        masquerade_sources: [concat(v6.guestAddress, 'wlan0')],
      };
      const json = nftJson(NFT_TABLE, elementsOf(rule));
      assert.equal(parseNftTable(json, nftJson(NFT_TABLE6, elements6, 'ip6')).has(with6), true);
      assert.equal(parseNftTable(json, '').has(with6), false, 'no IPv6 table');
      assert.equal(parseNftTable(json, nftJson(NFT_TABLE6, elements6, 'ip6', 'input')).has(with6), false, 'its input chain flushed');
      assert.equal(parseNftTable(json, nftJson(NFT_TABLE6, { ...elements6, guest_addresses: [] }, 'ip6')).has(with6), false);
      assert.equal(parseNftTable(json, '').has(rule), true, 'an IPv4-only guest needs no IPv6 table');
    });
  });

  describe('iptables', () => {
    // As iptables-save prints them: source, destination, in, out and protocol first, whatever order rules were written in.
    const antispoof = [
      '-A GUESTNET-ANTISPOOF -i vm_wlan+ -j GUESTNET-SOURCES',
      '-A GUESTNET-ANTISPOOF -i vm_wlan+ -j RETURN',
      '-A GUESTNET-ANTISPOOF -i lo -j RETURN',
      '-A GUESTNET-ANTISPOOF -s 172.17.0.0/16 -j GUESTNET-SOURCES',
      '-A GUESTNET-ANTISPOOF -d 172.17.3.2/32 -j DROP',
      '-A GUESTNET-SOURCES -s 172.17.3.3/32 -i vm_wlan -j RETURN',
      '-A GUESTNET-SOURCES -i vm_wlan+ -j DROP',
      '-A GUESTNET-SOURCES -s 172.17.3.3/32 -j DROP',
    ];
    const filter = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':GUESTNET-FORWARD - [0:0]',
      ':GUESTNET-OPEN - [0:0]',
      ':GUESTNET-OPEN-TO - [0:0]',
      ':GUESTNET-INPUT - [0:0]',
      ':GUESTNET-ANTISPOOF - [0:0]',
      ':GUESTNET-SOURCES - [0:0]',
      '-A INPUT -j GUESTNET-INPUT',
      '-A FORWARD -j GUESTNET-FORWARD',
      '-A GUESTNET-FORWARD -j GUESTNET-ANTISPOOF',
      '-A GUESTNET-INPUT -j GUESTNET-ANTISPOOF',
      '-A GUESTNET-FORWARD -i vm_wlan+ -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
      '-A GUESTNET-FORWARD -o vm_wlan+ -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
      '-A GUESTNET-FORWARD -i vm_wlan+ -m conntrack --ctstate INVALID -j DROP',
      '-A GUESTNET-FORWARD -o vm_wlan+ -m conntrack --ctstate INVALID -j DROP',
      '-A GUESTNET-FORWARD -i vm_wlan+ -o wlan0 -j ACCEPT',
      '-A GUESTNET-FORWARD -i wlan0 -o vm_wlan+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A GUESTNET-FORWARD -o vm_wlan+ -m conntrack --ctstate DNAT -j ACCEPT',
      '-A GUESTNET-FORWARD -o vm_wlan+ -j DROP',
      '-A GUESTNET-FORWARD -i vm_wlan+ -j DROP',
      '-A GUESTNET-INPUT -d 172.17.3.2/32 -i vm_wlan+ -p udp -m udp --dport 53 ' +
        '-m hashlimit --hashlimit-above 200/sec --hashlimit-burst 200 --hashlimit-mode srcip --hashlimit-name guestnet-dns -j DROP',
      '-A GUESTNET-INPUT -d 172.17.3.2/32 -i vm_wlan+ -p udp -m udp --dport 53 -j ACCEPT',
      '-A GUESTNET-INPUT -d 172.17.3.2/32 -i vm_wlan+ -p tcp -m tcp --dport 53 -j ACCEPT',
      '-A GUESTNET-INPUT -i vm_wlan+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
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
    const save = (filterRules: string[], rules: string[], natRules: string[]) =>
      [...filterRules, ...rules, 'COMMIT', ...natRules, 'COMMIT'].join('\n');

    it('sees the chains, the jumps and a guest as installed, a family sharing all but its source check', () => {
      const state = parseIptablesSave(save(filter, antispoof, nat));
      assert.equal(state.installed, true);
      assert.equal(state.has(rule), true);
      const seventh = { ...rule, hostIf: 'vm_wlan7', guestAddress: '172.17.3.9' };
      assert.equal(state.has(seventh), false, 'its source check is its own');
      const withSeventh = antispoof.flatMap((line) =>
        line.includes('172.17.3.3/32') ? [line, line.replace('3.3', '3.9').replace('vm_wlan ', 'vm_wlan7 ')] : [line],
      );
      assert.equal(parseIptablesSave(save(filter, withSeventh, nat)).has(seventh), true);
      assert.equal(state.has({ ...rule, uplink: 'rmnet0' }), false);
    });

    it('is not installed when a jump was flushed or doubled, and counts the jumps it found', () => {
      const withoutJump = parseIptablesSave(
        save(
          filter.filter((l) => !l.startsWith('-A FORWARD')),
          antispoof,
          nat,
        ),
      );
      assert.equal(withoutJump.installed, false);
      assert.equal(withoutJump.found?.['4 filter -A INPUT -j GUESTNET-INPUT'], 1, 'its other jumps are found');
      assert.equal(withoutJump.found?.['4 filter -A FORWARD -j GUESTNET-FORWARD'], undefined);
      const doubled = parseIptablesSave(save([...filter, '-A FORWARD -j GUESTNET-FORWARD'], antispoof, nat));
      assert.equal(doubled.installed, false);
      assert.equal(doubled.found?.['4 filter -A FORWARD -j GUESTNET-FORWARD'], 2);
      assert.equal(parseIptablesSave('*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*nat\nCOMMIT').found, undefined, 'nothing of ours');
      const inOtherTable = parseIptablesSave(
        save(
          filter.filter((l) => !l.startsWith('-A FORWARD')),
          antispoof,
          ['*nat', '-A FORWARD -j GUESTNET-FORWARD', ...nat.slice(1)],
        ),
      );
      assert.equal(inOtherTable.found?.['4 filter -A FORWARD -j GUESTNET-FORWARD'], undefined, 'a line counts in its own table only');
    });

    it('reads comments of port forwards quoted', () => {
      const forward =
        '-A GUESTNET-PREROUTING -p tcp -m tcp --dport 5555 -m comment --comment "guestnet:vm_wlan" -j DNAT --to-destination 172.17.3.3:5555';
      const output = forward.replace('PREROUTING', 'OUTPUT');
      const state = parseIptablesSave(save(filter, antispoof, [...nat, forward, output]));
      assert.equal(state.has({ ...rule, forwards: [adb] }), true);
      assert.equal(state.has({ ...rule, forwards: [{ ...adb, hostPort: 5556 }] }), false);
    });
  });
});
