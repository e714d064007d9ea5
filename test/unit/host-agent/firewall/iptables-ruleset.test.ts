import assert from 'node:assert/strict';
import { type FirewallContent, iptables } from '@guestnet/host-agent';
import { inputTo, linesStarting, runsOf, withIpv6 } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// One description of guestnet's iptables chains for both families: owned
// chains rewritten whole in one restore, each reached by one jump at position
// 1 of a built-in chain; guests of a link family share their rules; the
// teardown removes every jump and chain the install made.

const legacy = iptables('iptables-legacy');
const restore = (before: FirewallContent, after: FirewallContent, binary = 'iptables-legacy-restore') =>
  inputTo(legacy.change(before, after), binary);
const OWNED = {
  filter: ['GUESTNET-FORWARD', 'GUESTNET-OPEN', 'GUESTNET-OPEN-TO', 'GUESTNET-INPUT', 'GUESTNET-ANTISPOOF', 'GUESTNET-SOURCES'],
  nat: ['GUESTNET-POSTROUTING', 'GUESTNET-PREROUTING', 'GUESTNET-OUTPUT'],
};

describe('firewall/iptables-ruleset: the chains guestnet owns and what they hold', () => {
  it('rewrites every owned chain in one restore: each declared (so flushed) and refilled', () => {
    const steps = legacy.change(installed(SAMPLE_RULE), installed(SAMPLE_RULE, SECOND_RULE));
    assert.deepEqual(runsOf(steps, 'iptables-legacy-restore'), ['iptables-legacy-restore --noflush -w']);
    const input = inputTo(steps, 'iptables-legacy-restore');
    for (const [table, chains] of Object.entries(OWNED))
      for (const chain of chains) assert.match(input, new RegExp(`^\\*${table}\\n[^*]*^:${chain} - \\[0:0\\]$`, 'm'), chain);
  });

  it('inserts each jump at position 1 once at install, and replaces a jump found in the same restore, never doubling it', () => {
    const jumps = (input: string) => input.split('\n').filter((l) => /^-[ID] (FORWARD|INPUT|PREROUTING|OUTPUT|POSTROUTING) /.test(l));
    const fresh = jumps(restore(NO_RULES, installed(SAMPLE_RULE)));
    assert.equal(fresh.length, 5);
    for (const jump of fresh) assert.match(jump, /^-I \S+ 1 .*-j GUESTNET-/);
    assert.deepEqual(jumps(restore(installed(SAMPLE_RULE), installed(SAMPLE_RULE, SECOND_RULE))), [], 'installed: its jumps stay');
    const found = { ...NO_RULES, found: { '4 filter -A FORWARD -j GUESTNET-FORWARD': 2 } };
    assert.deepEqual(jumps(restore(found, installed(SAMPLE_RULE))).slice(0, 3), [
      '-D FORWARD -j GUESTNET-FORWARD',
      '-D FORWARD -j GUESTNET-FORWARD',
      '-I FORWARD 1 -j GUESTNET-FORWARD',
    ]);
  });

  it("lets a link family's guests share their rules: each further guest adds only its own source checks", () => {
    const lines = (content: FirewallContent) => new Set(linesStarting(restore(NO_RULES, content), '-A '));
    const [one, two] = [lines(installed(SAMPLE_RULE)), lines(installed(SAMPLE_RULE, SECOND_RULE))];
    assert.deepEqual(
      [...two].filter((l) => !one.has(l)),
      ['-A GUESTNET-SOURCES -s 172.17.3.4/32 -i vm_wlan1 -j RETURN', '-A GUESTNET-SOURCES -s 172.17.3.4/32 -j DROP'],
    );
    assert.deepEqual(
      [...one].filter((l) => !two.has(l)),
      [],
    );
  });

  it('lets guests reach each other only where both are open', () => {
    const open = { ...SAMPLE_RULE, openToGuests: true };
    const closed = restore(NO_RULES, installed(SAMPLE_RULE, SECOND_RULE));
    assert.doesNotMatch(closed, /-j GUESTNET-OPEN/, 'no open guest: no way into the chain');
    const mixed = restore(NO_RULES, installed(open, SECOND_RULE));
    assert.deepEqual(linesStarting(mixed, '-A GUESTNET-OPEN'), [
      '-A GUESTNET-OPEN -i vm_wlan -j GUESTNET-OPEN-TO',
      '-A GUESTNET-OPEN-TO -o vm_wlan -j ACCEPT',
    ]);
  });

  it('sends a published port to its guest from outside and from the host alike, with the guest named in a comment', () => {
    const forward = { protocol: 'udp' as const, hostPort: 5353, guestPort: 53 };
    const input = restore(NO_RULES, installed({ ...SAMPLE_RULE, forwards: [forward] }));
    const dnat = '-p udp -m udp --dport 5353 -m comment --comment guestnet:vm_wlan -j DNAT --to-destination 172.17.3.3:53';
    assert.deepEqual(
      input.split('\n').filter((l) => l.includes('-j DNAT')),
      [`-A GUESTNET-PREROUTING ${dnat}`, `-A GUESTNET-OUTPUT ${dnat}`],
    );
  });

  it('masquerades each pool once per uplink, whatever the number of guests', () => {
    const masquerades = linesStarting(
      restore(NO_RULES, installed(SAMPLE_RULE, SECOND_RULE)),
      '-A GUESTNET-POSTROUTING -s 172.17.0.0/16 -o wlan0',
    );
    assert.deepEqual(masquerades, ['-A GUESTNET-POSTROUTING -s 172.17.0.0/16 -o wlan0 -j MASQUERADE']);
  });

  it('removes at teardown every jump and owned chain the install made, each removal taking "already gone" as done', () => {
    const content = installed(withIpv6());
    const steps = legacy.change(content, NO_RULES);
    for (const [binary, family] of [
      ['iptables-legacy', 'iptables-legacy-restore'],
      ['ip6tables-legacy', 'ip6tables-legacy-restore'],
    ] as const) {
      const input = restore(NO_RULES, content, family);
      const runs = runsOf(steps, binary);
      for (const jump of input.split('\n').filter((l) => l.startsWith('-I '))) {
        const [, chain, , ...spec] = jump.split(' ');
        assert.ok(
          runs.some((r) => r.endsWith(`-D ${chain} ${spec.join(' ')}`)),
          `${binary}: ${jump} never removed`,
        );
      }
      for (const [, chain] of input.matchAll(/^:(\S+) - /gm)) {
        const flush = runs.findIndex((r) => r.endsWith(`-F ${chain}`));
        assert.ok(flush >= 0 && flush < runs.findIndex((r) => r.endsWith(`-X ${chain}`)), `${binary}: ${chain} flushed, then deleted`);
      }
    }
    const gone = [
      'iptables: Bad rule (does a matching rule exist in that chain?).',
      'iptables: No chain/target/match by that name.',
      "iptables v1.8.9 (legacy): Couldn't load target `GUESTNET-FORWARD':No such file or directory",
      "ip6tables v1.8.9 (nf_tables): Chain 'GUESTNET-ND' does not exist",
    ];
    for (const step of steps.filter((s) => s.kind === 'run')) {
      for (const message of gone) assert.match(message, step.tolerate ?? /^$/, `${step.argv.join(' ')} fails where it is gone`);
      assert.doesNotMatch("iptables v1.8.9 (legacy): can't initialize iptables table `filter': Permission denied", step.tolerate ?? /^$/);
    }
  });

  it('tears IPv6 down before IPv4, the reverse of setup', () => {
    const binaries = (steps: ReturnType<typeof legacy.change>) => [
      ...new Set(steps.flatMap((s) => (s.kind === 'run' ? [s.argv[0]?.replace('-restore', '')] : []))),
    ];
    assert.deepEqual(binaries(legacy.change(NO_RULES, installed(withIpv6()))), ['iptables-legacy', 'ip6tables-legacy']);
    assert.deepEqual(binaries(legacy.change(installed(withIpv6()), NO_RULES)), ['ip6tables-legacy', 'iptables-legacy']);
  });
});
