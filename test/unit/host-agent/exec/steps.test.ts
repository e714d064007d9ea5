import assert from 'node:assert/strict';
import {
  type BridgedVethRecord,
  formatStep,
  type GuestRule,
  iptables,
  nftables,
  RecordStore,
  type Step,
  stepsOf,
} from '@guestnet/host-agent';
import { sampleRecord, SAMPLE_RULE as rule, installed, NO_RULES as none, SECOND_RULE as second } from '../../../fixtures/records.js';

const record = sampleRecord({ pid: 4242, dns: [], token: `guestnet:${'b'.repeat(32)}` });
const ctx = { firewall: nftables, stateDir: '/state', records: new RecordStore('/state') };
/** What a routed IPv4-only host end gets before it comes up. */
const hostEndSettings: Step[] = [
  { kind: 'sysctl', path: '/proc/sys/net/ipv6/conf/vm_wlan/accept_ra', value: '0', ifPresent: true },
  { kind: 'sysctl', path: '/proc/sys/net/ipv6/conf/vm_wlan/accept_redirects', value: '0', ifPresent: true },
  { kind: 'sysctl', path: '/proc/sys/net/ipv4/conf/vm_wlan/accept_redirects', value: '0' },
  { kind: 'sysctl', path: '/proc/sys/net/ipv4/conf/vm_wlan/rp_filter', value: '1' },
  { kind: 'sysctl', path: '/proc/sys/net/ipv6/conf/vm_wlan/disable_ipv6', value: '1', ifPresent: true },
];
const oneTime = sampleRecord({ pid: 4242, dns: [], token: 'guestnet:gnAbCdEf0123456', guestIf: 'gnAbCdEf0123456' });
const ipv6 = { mode: 'nat' as const, hostAddress: 'fd00:1::1', guestAddress: 'fd00:1::ac11:303', prefixLength: 64, uplink: 'wlan0' };

describe('host ops', () => {
  it('creates the veth from inside the guest netns and tags its end there, then sets up the host end and brings it up', () => {
    assert.deepEqual(stepsOf({ kind: 'createVeth', record }, ctx), [
      {
        kind: 'run',
        argv: ['nsenter', '--net=/proc/4242/ns/net', 'ip', '-batch', '-'],
        input:
          'link add vm_wlan0 mtu 1500 address 02:67:6e:11:03:03 type veth ' +
          `peer name vm_wlan mtu 1500 address 06:67:6e:11:03:03 netns /proc/${process.pid}/ns/net\n` +
          `link set dev vm_wlan0 alias ${record.token}\n`,
      },
      ...hostEndSettings,
      {
        kind: 'run',
        argv: ['ip', '-batch', '-'],
        spare: 'ip-batch',
        input: 'address add 172.17.3.2/32 peer 172.17.3.3/32 dev vm_wlan\nlink set dev vm_wlan up\n',
      },
    ]);
  });

  it('never lets a guest link come up taking router advertisements or redirects, whatever default holds', () => {
    const port: BridgedVethRecord = { ...record, type: 'bridged-veth', link: 'br0' };
    for (const r of [record, port, { ...record, ipv6 }, oneTime]) {
      // In the order they happen: a process's midway steps come between its two parts of input.
      const steps = stepsOf({ kind: 'createVeth', record: r }, ctx).flatMap((s): Step[] =>
        s.kind === 'run' && s.midway
          ? [{ ...s, midway: undefined }, ...s.midway.steps, { kind: 'run', argv: s.argv, input: s.midway.rest }]
          : [s],
      );
      const up = steps.findIndex((s) => s.kind === 'run' && /link set dev vm_wlan up/.test(s.input ?? ''));
      const set = (path: string) => steps.findIndex((s) => s.kind === 'sysctl' && s.path === path && s.value === '0');
      for (const path of [
        '/proc/sys/net/ipv6/conf/vm_wlan/accept_ra',
        '/proc/sys/net/ipv6/conf/vm_wlan/accept_redirects',
        '/proc/sys/net/ipv4/conf/vm_wlan/accept_redirects',
      ]) {
        assert.ok(set(path) >= 0 && set(path) < up, `${path} is set before the link comes up (${r.type})`);
      }
      const noIpv6 = steps.some((s) => s.kind === 'sysctl' && s.path.endsWith('/disable_ipv6'));
      assert.equal(noIpv6, r.type === 'routed-veth' && !r.ipv6, 'IPv6 off only on a routed link whose guest has none');
    }
  });

  it("with a one-time guest end, makes the pair from the host in one ip, the guest end created in the guest's netns", () => {
    assert.deepEqual(stepsOf({ kind: 'createVeth', record: oneTime }, ctx), [
      {
        kind: 'run',
        argv: ['ip', '-batch', '-'],
        spare: 'ip-batch',
        input:
          'link add vm_wlan mtu 1500 address 06:67:6e:11:03:03 type veth ' +
          'peer name gnAbCdEf0123456 mtu 1500 address 02:67:6e:11:03:03 netns /proc/4242/ns/net\n' +
          'link show dev vm_wlan\n',
        midway: {
          steps: hostEndSettings,
          rest: 'address add 172.17.3.2/32 peer 172.17.3.3/32 dev vm_wlan\nlink set dev vm_wlan up\n',
        },
      },
    ]);
    // Tagged in the first part: an agent that dies halfway leaves a link that is still known as its own.
    const [tagged] = stepsOf({ kind: 'createVeth', record: { ...oneTime, tagged: true } }, ctx);
    assert.match(
      tagged?.kind === 'run' ? (tagged.input ?? '') : '',
      /\nlink set dev vm_wlan alias \S+ group \d+\nlink show dev vm_wlan\n$/,
    );
  });

  it('adds a guest as six set elements in one nft transaction, a gateway it shares with others already there', () => {
    const [step] = stepsOf({ kind: 'setGuestRules', before: installed(second), after: installed(second, rule) }, ctx) as [
      Step & { kind: 'run' },
    ];
    assert.deepEqual(step.argv, ['nft', '-f', '-']);
    assert.equal(
      step.input,
      'add element ip guestnet guest_links { "vm_wlan" }\nadd element ip guestnet forward_pairs { "vm_wlan" . "wlan0" }\n' +
        'add element ip guestnet guest_sources { "vm_wlan" . 172.17.3.3 }\nadd element ip guestnet guest_addresses { 172.17.3.3 }\n' +
        'add element ip guestnet masquerade_sources { 172.17.3.3 . "wlan0" }\n' +
        'add element ip guestnet dns_servers { "vm_wlan" . 172.17.3.2 }\n',
    );
  });

  it('creates the table and its chains in the same transaction as the first guest', () => {
    const [step] = stepsOf({ kind: 'setGuestRules', before: none, after: installed(rule) }, ctx) as [Step & { kind: 'run' }];
    assert.match(
      step.input ?? '',
      /^add table ip guestnet\ndelete table ip guestnet\ntable ip guestnet \{/,
      'whatever was there goes in the same breath',
    );
    assert.match(step.input ?? '', /oifname \. iifname @forward_pairs ct state established,related accept/);
    assert.match(step.input ?? '', /add element ip guestnet guest_links/);
  });

  it('nft: MSS clamp, INVALID drop and an input chain that lets guests reach the host only with replies and DNS to their gateway', () => {
    const [step] = stepsOf({ kind: 'setGuestRules', before: none, after: installed(rule) }, ctx) as [Step & { kind: 'run' }];
    assert.match(step.input ?? '', /iifname @guest_links tcp flags syn tcp option maxseg size set rt mtu/);
    assert.match(step.input ?? '', /iifname @guest_links ct state invalid drop/);
    assert.match(
      step.input ?? '',
      new RegExp(
        [
          'chain input \\{',
          '\t\ttype filter hook input priority filter; policy accept;',
          '\t\tiifname \\. ip daddr @dns_servers udp dport 53 update @dns_rate \\{ ip saddr limit rate over 200/second burst 200 packets \\} drop',
          // DHCP from --guest-config dhcp guests' links only, with their own MAC, at a kernel rate that an established flow does not escape.
          '\t\tudp dport 67 iifname @dhcp_links update @dhcp_rate \\{ iifname limit rate over 20/second burst 20 packets \\} drop',
          '\t\tudp dport 67 @th,288,48 @dhcp_macs iifname \\. @th,288,48 != @dhcp_clients drop',
          '\t\tiifname @guest_links ct state established,related accept',
          '\t\tiifname \\. ip daddr @dns_servers meta l4proto \\{ tcp, udp \\} th dport 53 accept',
          '\t\tudp sport 68 udp dport 67 iifname \\. @th,288,48 @dhcp_clients accept',
          '\t\tiifname @guest_links drop',
        ].join('\n'),
      ),
    );
  });

  it('nft: re-creating a flushed table puts every attached guest back in the same transaction', () => {
    const [step] = stepsOf({ kind: 'setGuestRules', before: none, after: installed(second, rule) }, ctx) as [Step & { kind: 'run' }];
    assert.match(step.input ?? '', /guest_links \{ "vm_wlan1" \}[\s\S]*guest_links \{ "vm_wlan" \}/);
  });

  it('iptables: guests of one family share their rules, so guest 200 costs only its two source checks more than guest 1', () => {
    const legacy = { firewall: iptables('iptables-legacy'), stateDir: '/state' };
    const restoreOf = (others: GuestRule[]) => {
      const steps = stepsOf({ kind: 'setGuestRules', before: installed(...others), after: installed(...others, rule) }, legacy) as Array<
        Step & { kind: 'run' }
      >;
      assert.equal(steps.length, 1);
      assert.deepEqual(steps[0]?.argv, ['iptables-legacy-restore', '--noflush', '-w']);
      return steps[0]?.input ?? '';
    };
    const many = Array.from({ length: 199 }, (_, i) => ({ ...rule, hostIf: `vm_wlan${i + 1}`, guestAddress: `172.17.4.${i + 1}` }));
    const sourceCheck = /^-A GUESTNET-SOURCES -s 172\.17\.4\.\d+\/32 (-i vm_wlan\d+ -j RETURN|-j DROP)$/;
    const lines = restoreOf(many).split('\n');
    assert.equal(lines.filter((l) => sourceCheck.test(l)).length, 2 * 199);
    assert.deepEqual(
      lines.filter((l) => !sourceCheck.test(l)),
      restoreOf([]).split('\n'),
    );
    const input = restoreOf([]);
    for (const line of [
      ':GUESTNET-FORWARD - [0:0]',
      '-A GUESTNET-FORWARD -i vm_wlan+ -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
      '-A GUESTNET-FORWARD -i vm_wlan+ -m conntrack --ctstate INVALID -j DROP',
      '-A GUESTNET-FORWARD -i vm_wlan+ -o wlan0 -j ACCEPT',
      '-A GUESTNET-FORWARD -i wlan0 -o vm_wlan+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A GUESTNET-FORWARD -o vm_wlan+ -j DROP',
      '-A GUESTNET-INPUT -i vm_wlan+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A GUESTNET-INPUT -i vm_wlan+ -j DROP',
      '-A GUESTNET-POSTROUTING -s 172.17.0.0/16 -o wlan0 -j MASQUERADE',
      '-A GUESTNET-ANTISPOOF -i vm_wlan+ -j GUESTNET-SOURCES',
      '-A GUESTNET-ANTISPOOF -s 172.17.0.0/16 -j GUESTNET-SOURCES',
      '-A GUESTNET-ANTISPOOF -d 172.17.3.2/32 -j DROP',
      '-A GUESTNET-SOURCES -s 172.17.3.3/32 -i vm_wlan -j RETURN',
      '-A GUESTNET-SOURCES -i vm_wlan+ -j DROP',
    ]) {
      assert.ok(input.split('\n').includes(line), line);
    }
  });

  it('iptables: an install or a repair is one restore, which replaces the jumps it found instead of removing them first', () => {
    const ipt = { firewall: iptables('iptables'), stateDir: '/state' };
    const fresh = stepsOf({ kind: 'setGuestRules', before: none, after: installed(rule) }, ipt) as Array<Step & { kind: 'run' }>;
    assert.deepEqual(
      fresh.map((s) => s.argv[0]),
      ['iptables-restore'],
    );
    assert.doesNotMatch(fresh[0]?.input ?? '', /^-D /m);
    const found = { '4 filter -A INPUT -j GUESTNET-INPUT': 1, '4 filter -A FORWARD -j GUESTNET-FORWARD': 2 };
    const repair = stepsOf({ kind: 'setGuestRules', before: { ...none, found }, after: installed(rule) }, ipt) as Array<
      Step & { kind: 'run' }
    >;
    assert.deepEqual(
      repair.map((s) => s.argv.join(' ')),
      ['iptables-restore --noflush -w'],
    );
    const lines = (repair[0]?.input ?? '').split('\n');
    const jumps = lines.filter((l) => /^-[DI] (PREROUTING|INPUT|FORWARD|POSTROUTING|OUTPUT) /.test(l));
    assert.deepEqual(jumps, [
      '-D FORWARD -j GUESTNET-FORWARD',
      '-D FORWARD -j GUESTNET-FORWARD',
      '-I FORWARD 1 -j GUESTNET-FORWARD',
      '-D INPUT -j GUESTNET-INPUT',
      '-I INPUT 1 -j GUESTNET-INPUT',
      '-I POSTROUTING 1 -j GUESTNET-POSTROUTING',
      '-I PREROUTING 1 -m addrtype --dst-type LOCAL -j GUESTNET-PREROUTING',
      '-I OUTPUT 1 -m addrtype --dst-type LOCAL -j GUESTNET-OUTPUT',
    ]);
    const installedAlready = stepsOf({ kind: 'setGuestRules', before: { ...installed(), found }, after: installed(rule) }, ipt) as Array<
      Step & { kind: 'run' }
    >;
    assert.doesNotMatch(installedAlready[0]?.input ?? '', /^-[DI] /m, 'jumps in place are left alone');
  });

  it('iptables: a --host-if outside the prefix gets rules of its own, never a wildcard of its name', () => {
    const legacy = { firewall: iptables('iptables'), stateDir: '/state' };
    const chosen: GuestRule = { ...rule, hostIf: 'eth5', linkFamily: 'eth5' };
    const [step] = stepsOf({ kind: 'setGuestRules', before: installed(), after: installed(chosen) }, legacy) as [Step & { kind: 'run' }];
    assert.match(step.input ?? '', /^-A GUESTNET-FORWARD -i eth5 -o wlan0 -j ACCEPT$/m);
    assert.doesNotMatch(step.input ?? '', /eth\+/);
  });

  it('removes tolerantly: add-then-delete succeeds whether or not the thing exists', () => {
    const [last] = stepsOf({ kind: 'setGuestRules', before: installed(rule), after: none }, ctx) as [Step & { kind: 'run' }];
    assert.equal(last.input, 'add table ip guestnet\ndelete table ip guestnet\n');
    const [one] = stepsOf({ kind: 'setGuestRules', before: installed(second, rule), after: installed(second) }, ctx) as [
      Step & { kind: 'run' },
    ];
    assert.match(
      one.input ?? '',
      /^add element ip guestnet guest_links \{ "vm_wlan" \}\ndelete element ip guestnet guest_links \{ "vm_wlan" \}\n/,
    );
  });

  it('swaps port forwards in one transaction, tolerating ones already gone', () => {
    const adb = { protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 };
    const dns = { protocol: 'udp' as const, hostPort: 5353, guestPort: 53 };
    const [write] = stepsOf(
      { kind: 'updateRecords', before: [{ ...record, forwards: [adb] }], after: [{ ...record, forwards: [dns] }] },
      ctx,
    );
    const [nft] = stepsOf(
      { kind: 'setGuestRules', before: installed({ ...rule, forwards: [adb] }), after: installed({ ...rule, forwards: [dns] }) },
      ctx,
    ) as [Step & { kind: 'run' }];
    assert.equal(write?.kind, 'write');
    assert.equal(
      nft.input,
      'add element ip guestnet port_forwards { tcp . 5555 : 172.17.3.3 . 5555 }\n' +
        'delete element ip guestnet port_forwards { tcp . 5555 : 172.17.3.3 . 5555 }\n' +
        'add element ip guestnet port_forwards { udp . 5353 : 172.17.3.3 . 53 }\n',
    );
  });

  it('prints steps as commands a root shell can run', () => {
    assert.equal(
      formatStep({ kind: 'sysctl', path: '/proc/sys/net/ipv4/ip_forward', value: '1' }),
      'echo 1 > /proc/sys/net/ipv4/ip_forward',
    );
    assert.equal(
      formatStep({ kind: 'run', argv: ['ip', 'link', 'set', 'dev', 'x', 'alias', "it's"] }),
      "ip link set dev x alias 'it'\\''s'",
    );
  });
});

describe('the link of a dhcp guest', () => {
  it('is made under its final name and up, with a permanent neighbour entry for the unicast reply, in the same processes', () => {
    const record = sampleRecord({ pid: 4242, guestIf: 'eth0', guestName: 'eth0', guestConfig: 'dhcp' });
    const steps = stepsOf({ kind: 'createVeth', record }, { firewall: nftables, stateDir: '/s' }) as Array<Step & { kind: 'run' }>;
    const runs = steps.filter((s) => s.kind === 'run');
    assert.equal(runs.length, 2, 'no process more than an agent guest');
    assert.match(runs[0]?.input ?? '', /\nlink set dev eth0 up\n$/);
    assert.match(
      runs[1]?.input ?? '',
      /\nlink set dev vm_wlan up\nneigh replace 172\.17\.3\.3 lladdr 02:67:6e:11:03:03 dev vm_wlan nud permanent\n/,
    );
    const agent = stepsOf({ kind: 'createVeth', record: sampleRecord({ pid: 4242 }) }, { firewall: nftables, stateDir: '/s' });
    assert.doesNotMatch(JSON.stringify(agent), /neigh|link set dev vm_wlan0 up/);
  });
});
