import assert from 'node:assert/strict';
import { hostQueries, iptables, parseIptablesSave, type Reader, RecordingRunner } from '@guestnet/host-agent';
import { withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE as rule } from '../../../fixtures/records.js';

const adb = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };

describe('firewall observation: iptables-save', () => {
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
    '-A GUESTNET-POSTROUTING -s 127.0.0.0/8 -o vm_wlan+ -j MASQUERADE',
    '-A GUESTNET-PREROUTING -d 127.0.0.0/8 -j RETURN',
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

describe('firewall/iptables: teardown takes every copy of a jump found', () => {
  // A jump the host doubled (a saved ruleset restored over ours): one delete
  // would leave the second, and deleting its chain would then fail ("Too many
  // links"), failing the detach and leaving the chain behind.
  it('deletes a jump as many times as it was found, at least once', () => {
    const doubled = '4 filter -A FORWARD -j GUESTNET-FORWARD';
    const steps = iptables('iptables-legacy').change({ ...installed(rule), found: { [doubled]: 2 } }, NO_RULES);
    const deletes = (chain: string) =>
      steps.filter((s) => s.kind === 'run' && s.argv.join(' ') === `iptables-legacy -w -t filter -D ${chain}`).length;
    assert.equal(deletes('FORWARD -j GUESTNET-FORWARD'), 2);
    assert.equal(deletes('INPUT -j GUESTNET-INPUT'), 1, 'a jump not counted is deleted once');
    const undone = iptables('iptables-legacy').change(installed(rule), NO_RULES);
    assert.equal(undone.filter((s) => s.kind === 'run' && s.argv.includes('-D')).length, 5, 'one delete a jump');
  });
});

describe('firewall/iptables: observe reads ip6tables only where asked', () => {
  // A host with no tables at all: nothing installed, and every table absent.
  const empty = () =>
    new RecordingRunner({ 'iptables-save': '', 'iptables-legacy-save': '', 'ip6tables-save': '', 'ip6tables-legacy-save': '' });
  const reads6 = async (
    variant: 'iptables' | 'iptables-legacy',
    deep: boolean,
    ipv6: boolean,
    read6?: Parameters<ReturnType<typeof iptables>['observe']>[3],
  ) => {
    const runner = empty();
    await iptables(variant).observe(runner, deep, ipv6, read6);
    return runner.reads.some(([binary]) => binary?.startsWith('ip6tables'));
  };

  it("with a bridged port at stake on both variants, and where IPv6's chains come or go on iptables-nft only", async () => {
    for (const variant of ['iptables', 'iptables-legacy'] as const) {
      assert.equal(await reads6(variant, false, true), false, `${variant}: a fresh attach`);
      assert.equal(await reads6(variant, true, true), true, `${variant}: a deep look where a guest has IPv6`);
      assert.equal(await reads6(variant, false, false, { ports: true }), true, `${variant}: a bridged port`);
      // iptables-legacy makes no table of its own: nothing to mark, nothing to read.
      assert.equal(await reads6(variant, false, true, { chains: true }), variant === 'iptables', `${variant}: IPv6's chains`);
    }
  });

  it("finds IPv6's tables absent before the first guest with IPv6, so that the install marks what it makes", async () => {
    const state = await iptables('iptables').observe(empty(), false, true, { chains: true });
    assert.ok(state.found?.['6 absent filter TABLE'] && state.found['6 absent nat TABLE'], JSON.stringify(state.found));
    const install = iptables('iptables').change({ ...NO_RULES, ...(state.found ? { found: state.found } : {}) }, installed(withIpv6()));
    const restore6 = install.find((s) => s.kind === 'run' && s.argv[0] === 'ip6tables-restore');
    assert.match(restore6?.kind === 'run' ? (restore6.input ?? '') : '', /:GUESTNET-MADE-TABLE - /);
  });
});

describe('firewall/iptables: what iptables-nft has made is asked by name', () => {
  it('before the first install, the built-in chains come from the named query the daemon remembers, not a read of its own', async () => {
    const asked: string[] = [];
    const reader: Reader = {
      read: async (argv) => assert.fail(`a read by argv: ${argv.join(' ')}`),
      query: async (query) => {
        asked.push(query.name);
        if (query === hostQueries.nftChains4)
          return JSON.stringify({ nftables: [{ chain: { family: 'ip', table: 'nat', name: 'POSTROUTING', hook: 'postrouting' } }] });
        return '*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';
      },
    };
    const state = await iptables('iptables').observe(reader, false, false);
    assert.deepEqual(asked, ['iptablesSave', 'nftChains4']);
    assert.ok(state.found?.['4 absent nat PREROUTING'], JSON.stringify(state.found));
    assert.ok(!state.found?.['4 absent nat POSTROUTING'], 'a built-in chain that exists is not marked');
  });
});
