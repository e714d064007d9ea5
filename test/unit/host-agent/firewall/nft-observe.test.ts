import assert from 'node:assert/strict';
import { type GuestRule, NFT_TABLE, NFT_TABLE6, nftables, parseNftTable, RecordingRunner } from '@guestnet/host-agent';
import { SAMPLE_RULE as rule } from '../../../fixtures/records.js';

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

describe('firewall observation: nftables', () => {
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

  it("knows a dhcp guest by its link, its link . MAC and its MAC as nft lists them (a number), and a guest without dhcp by its link's absence", () => {
    const dhcp = { ...rule, dhcp: { mac: '02:67:6E:11:03:03' } };
    const mac = 0x02676e110303;
    const sets = { dhcp_links: ['vm_wlan'], dhcp_clients: [concat('vm_wlan', mac)], dhcp_macs: [mac] };
    const state = parseNftTable(nftJson(NFT_TABLE, { ...elementsOf(rule), ...sets }));
    assert.equal(state.has(dhcp), true);
    assert.equal(state.has(rule), false, 'a guest without dhcp has no link in dhcp_links');
    for (const missing of Object.keys(sets))
      assert.equal(parseNftTable(nftJson(NFT_TABLE, { ...elementsOf(rule), ...sets, [missing]: [] })).has(dhcp), false, missing);
    const otherMac = { ...sets, dhcp_clients: [concat('vm_wlan', mac + 1)], dhcp_macs: [mac + 1] };
    assert.equal(parseNftTable(nftJson(NFT_TABLE, { ...elementsOf(rule), ...otherMac })).has(dhcp), false, 'its own MAC');
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
