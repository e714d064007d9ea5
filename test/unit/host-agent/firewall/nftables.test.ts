import assert from 'node:assert/strict';
import { type FirewallContent, nftables, parseNftTable, RecordingRunner } from '@guestnet/host-agent';
import { CommandFailedError } from '@guestnet/protocol';
import { inputTo, nftElementsAfter, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// The nftables backend: one transaction per change, a guest a few set
// elements, removal that succeeds whether or not its pieces are still there,
// and the undo of a change the same call reversed.

const nft = (before: FirewallContent, after: FirewallContent) => inputTo(nftables.change(before, after), 'nft');
const adb = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };
const elementsOf = (content: FirewallContent) => nftElementsAfter([nft(NO_RULES, content)]);

describe('firewall/nftables: the backend built on two nft tables', () => {
  it('makes each change one transaction, both families in it: whole or not at all', () => {
    const steps = nftables.change(NO_RULES, installed(withIpv6()));
    const runs = steps.filter((s) => s.kind === 'run');
    assert.deepEqual(
      runs.map((s) => s.argv),
      [['nft', '-f', '-']],
    );
    assert.match(inputTo(steps, 'nft'), /^table ip guestnet \{$[\s\S]*^table ip6 guestnet \{$/m);
  });

  it('changes nothing where nothing is installed before or after', () => {
    assert.deepEqual(nftables.change(NO_RULES, NO_RULES), []);
    assert.deepEqual(nftables.change(installed(SAMPLE_RULE), installed(SAMPLE_RULE)), [], 'an unchanged guest is not rewritten');
  });

  it('makes the table afresh at install, dropping whatever was there of it in the same transaction, so a stale table never survives', () => {
    const input = nft(NO_RULES, installed(SAMPLE_RULE));
    assert.match(input, /^add table ip guestnet\ndelete table ip guestnet\ntable ip guestnet \{/);
    assert.equal(
      [...nftElementsAfter([input], ['ip guestnet guest_links { "stale" }'])].some((e) => e.includes('stale')),
      false,
    );
  });

  it('changes one guest by its own elements only: the others are neither deleted nor added again', () => {
    const input = nft(installed(SAMPLE_RULE), installed(SAMPLE_RULE, SECOND_RULE));
    assert.doesNotMatch(input, /table|delete/, 'no table rewritten, nothing removed');
    assert.doesNotMatch(input, /"vm_wlan"|172\.17\.3\.3\b/, "the first guest's elements are left alone");
    assert.match(input, /guest_links \{ "vm_wlan1" \}/);
  });

  it('ends in the same elements whether a guest set is installed at once or reached by changes, and the reversed change undoes', () => {
    const a = installed(SAMPLE_RULE, { ...SECOND_RULE, forwards: [adb] });
    const b = installed(
      { ...SAMPLE_RULE, openToGuests: true },
      withIpv6({ ...SECOND_RULE, hostIf: 'vm_wlan2', guestAddress: '172.17.3.5' }),
    );
    const fromA = [nft(NO_RULES, a)];
    assert.deepEqual(nftElementsAfter([...fromA, nft(a, b)]), elementsOf(b));
    assert.deepEqual(nftElementsAfter([...fromA, nft(a, b), nft(b, a)]), elementsOf(a));
  });

  it('removes a guest with "add then delete" of each element: it succeeds whether or not the element is still there', () => {
    const input = nft(installed(SAMPLE_RULE, SECOND_RULE), installed(SAMPLE_RULE));
    const deletes = input.split('\n').filter((l) => l.startsWith('delete element'));
    assert.ok(deletes.length > 0);
    for (const line of deletes) assert.ok(input.includes(`${line.replace('delete', 'add')}\n${line}`), `${line} without its add`);
    assert.doesNotThrow(() => nftElementsAfter([input]), 'applied where none of its elements is left');
  });

  it('keeps a gateway two guests share until the last of them goes', () => {
    assert.doesNotMatch(nft(installed(SAMPLE_RULE, SECOND_RULE), installed(SAMPLE_RULE)), /gateways/);
    assert.doesNotMatch(nft(installed(SAMPLE_RULE), installed(SAMPLE_RULE, SECOND_RULE)), /gateways/);
    const own = { ...SECOND_RULE, gateway: '172.17.3.1' };
    assert.match(nft(installed(SAMPLE_RULE, own), installed(SAMPLE_RULE)), /^delete element ip guestnet gateways \{ 172\.17\.3\.1 \}$/m);
  });

  it('drops every table with the last guest, and a table of another shape that was found, tolerating tables already gone', () => {
    assert.equal(
      nft(installed(withIpv6()), NO_RULES),
      'add table ip guestnet\ndelete table ip guestnet\nadd table ip6 guestnet\ndelete table ip6 guestnet\n',
    );
    assert.equal(nft({ ...NO_RULES, found: { 'ip guestnet': 1 } }, NO_RULES), 'add table ip guestnet\ndelete table ip guestnet\n');
    assert.doesNotThrow(() => nftElementsAfter([nft(installed(withIpv6()), NO_RULES)]), 'applied where the tables are gone');
  });

  describe('observe', () => {
    const missing: RecordingRunner['read'] = async (argv) => {
      throw new CommandFailedError(argv, 'Error: No such file or directory; did you mean table', 1);
    };
    const reader = (read: RecordingRunner['read']) => ({ read, query: (q: { argv: readonly string[] }) => read([...q.argv]) });

    it('reads a table that does not exist as nothing installed, deep or not', async () => {
      for (const deep of [false, true]) {
        const state = await nftables.observe(reader(missing), deep, true);
        assert.deepEqual([state.installed, state.found, state.has(SAMPLE_RULE)], [false, undefined, false]);
      }
    });

    it('lets any other failure of nft through: an unreadable firewall is never taken for an empty one', async () => {
      const denied: RecordingRunner['read'] = async (argv) => {
        throw new CommandFailedError(argv, 'Error: Operation not permitted', 1);
      };
      for (const deep of [false, true]) await assert.rejects(nftables.observe(reader(denied), deep), CommandFailedError);
    });

    it("reads IPv6's table only when asked, where some guest has IPv6", async () => {
      const runner = new RecordingRunner();
      await nftables.observe(runner, true).catch(() => undefined);
      assert.deepEqual(runner.reads, [['nft', '-j', 'list', 'table', 'ip', 'guestnet']]);
    });
  });
});

// nftables' tables drop only what is a guest link's: a bridged guest's port needs nothing of them.

describe('firewall/nftables: bridged guests need nothing of its tables', () => {
  const withPort = (content: FirewallContent): FirewallContent => ({ ...content, bridgedPorts: ['vm_br0'] });
  const routed: FirewallContent = { installed: true, guests: [SAMPLE_RULE], bridgedPorts: [] };

  it('a port alone makes no table, and a port beside routed guests changes nothing of theirs', () => {
    assert.deepEqual(nftables.change(NO_RULES, withPort({ ...NO_RULES, installed: true })), []);
    assert.deepEqual(nftables.change(withPort({ ...NO_RULES, installed: true }), NO_RULES), []);
    assert.deepEqual(nftables.change(withPort(NO_RULES), withPort(routed)), nftables.change(NO_RULES, routed));
    assert.deepEqual(nftables.change(routed, withPort(routed)), []);
    assert.deepEqual(
      nftables.change(withPort(routed), withPort({ ...routed, guests: [] })),
      nftables.change(routed, NO_RULES),
      'the table goes with the last routed guest, whatever bridged guests remain',
    );
  });

  it('sees every port as let through, whatever its table holds', () => {
    assert.equal(parseNftTable('{"nftables": []}').hasPort('vm_br0'), true);
  });
});
