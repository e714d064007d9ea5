import assert from 'node:assert/strict';
import { type FirewallContent, iptables, parseIptablesSave, type Step } from '@guestnet/host-agent';
import { inputTo, linesStarting, savedAfter } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, SAMPLE_RULE, SECOND_RULE } from '../../../fixtures/records.js';

// The rules both families are made of: written in the order iptables-save
// prints them, so the drift check sees them; and the source checks of the
// antispoof chain.

const restore = (...rules: Parameters<typeof installed>) =>
  inputTo(iptables('iptables-legacy').change(NO_RULES, installed(...rules)), 'iptables-legacy-restore');

describe('firewall/iptables-rules: what both families are made of', () => {
  it('writes source, destination, in, out and protocol in the order iptables-save prints them, whatever order they were built in', () => {
    const bound = { protocol: 'tcp' as const, hostPort: 8081, guestPort: 80, hostAddress: '198.51.100.2' };
    const text = restore({ ...SAMPLE_RULE, forwards: [bound] });
    const order = ['-s', '-d', '-i', '-o', '-p'];
    for (const line of linesStarting(text, '-A ')) {
      const head =
        line
          .split(/ -[mjg] /)[0]
          ?.split(' ')
          .filter((w) => w.startsWith('-') && w !== '-A') ?? [];
      const ranks = head.map((w) => order.indexOf(w));
      assert.deepEqual(ranks, [...ranks].sort(), line);
    }
    assert.match(text, /^-A GUESTNET-SOURCES -s 172\.17\.3\.3\/32 -i vm_wlan -j RETURN$/m);
    assert.match(text, /^-A GUESTNET-PREROUTING -d 198\.51\.100\.2\/32 -p tcp -m tcp --dport 8081 /m);
  });

  it('quotes comments as iptables-save does, so a forward reads back as in place', () => {
    const forwarded = { ...SAMPLE_RULE, forwards: [{ protocol: 'tcp' as const, hostPort: 5555, guestPort: 5555 }] };
    const save = savedAfter(restore(forwarded));
    assert.match(save, /--comment "guestnet:vm_wlan"/);
    assert.equal(parseIptablesSave(save).has(forwarded), true);
  });

  it('checks sources first in the forward and input chains, before any accept', () => {
    const text = restore(SAMPLE_RULE);
    for (const chain of ['GUESTNET-FORWARD', 'GUESTNET-INPUT'])
      assert.equal(linesStarting(text, `-A ${chain} `)[0], `-A ${chain} -j GUESTNET-ANTISPOOF`);
  });

  it("lets a guest's link carry only its guest's address, and that address come in on no other link", () => {
    const sources = linesStarting(restore(SAMPLE_RULE, SECOND_RULE), '-A GUESTNET-SOURCES ');
    assert.deepEqual(sources, [
      '-A GUESTNET-SOURCES -s 172.17.3.3/32 -i vm_wlan -j RETURN',
      '-A GUESTNET-SOURCES -s 172.17.3.4/32 -i vm_wlan1 -j RETURN',
      '-A GUESTNET-SOURCES -i vm_wlan+ -j DROP',
      '-A GUESTNET-SOURCES -s 172.17.3.3/32 -j DROP',
      '-A GUESTNET-SOURCES -s 172.17.3.4/32 -j DROP',
    ]);
  });

  it('drops what is addressed to a gateway from anywhere but a guest link or the host itself', () => {
    const antispoof = linesStarting(restore(SAMPLE_RULE), '-A GUESTNET-ANTISPOOF ');
    const drop = antispoof.indexOf('-A GUESTNET-ANTISPOOF -d 172.17.3.2/32 -j DROP');
    assert.ok(drop > antispoof.indexOf('-A GUESTNET-ANTISPOOF -i vm_wlan+ -j RETURN'));
    assert.ok(drop > antispoof.indexOf('-A GUESTNET-ANTISPOOF -i lo -j RETURN'));
  });
});

// A bridged guest's port in iptables: where br_netfilter hands bridged frames
// to iptables and FORWARD drops (Docker's policy), guestnet's forward chain
// lets the guest's own port through, just after its antispoof jump.

type Run = Step & { kind: 'run' };
const runs = (steps: Step[]) => steps.filter((s): s is Run => s.kind === 'run');
const PORT_IN = '-A GUESTNET-FORWARD -m physdev --physdev-in vm_br0 --physdev-is-bridged -j ACCEPT';
const PORT_OUT = '-A GUESTNET-FORWARD -m physdev --physdev-out vm_br0 --physdev-is-bridged -j ACCEPT';
const port: FirewallContent = { installed: true, guests: [], bridgedPorts: ['vm_br0'] };

describe("firewall/iptables-rules: a bridged guest's port", () => {
  for (const variant of ['iptables', 'iptables-legacy'] as const)
    it(`${variant}: let through after the antispoof jump in both families; every add has its delete, teardown mirrors setup`, () => {
      const ipt = iptables(variant);
      const setup = runs(ipt.change(NO_RULES, port));
      const six = variant.replace('iptables', 'ip6tables');
      assert.deepEqual(
        setup.map((s) => s.argv[0]),
        [`${variant}-restore`, `${six}-restore`],
        'IPv4 first, and ip6tables too: bridged frames meet both',
      );
      for (const step of setup) {
        const forward = (step.input ?? '').split('\n').filter((line) => line.startsWith('-A GUESTNET-FORWARD '));
        assert.deepEqual(forward, ['-A GUESTNET-FORWARD -j GUESTNET-ANTISPOOF', PORT_IN, PORT_OUT], 'right after the antispoof jump');
        assert.ok(step.unsupported?.when.test('Warning: Extension physdev revision 0 not supported, missing kernel module?'));
        assert.ok(step.unsupported?.when.test("iptables-restore v1.8.9 (legacy): Couldn't load match `physdev':No such file or directory"));
        assert.ok(!step.unsupported?.when.test('iptables-restore: line 7 failed'), 'another failure is not called missing physdev');
        assert.match(step.unsupported?.message ?? '', /xt_physdev.*nothing was changed/);
      }
      // The undo is the same change the other way: every jump inserted is deleted, every chain declared flushed and deleted.
      const teardown = runs(ipt.change(port, NO_RULES));
      for (const [index, binary] of [variant, six].entries()) {
        const input = setup[index]?.input ?? '';
        const inserted = [...input.matchAll(/^-I (\S+) 1 (.*)$/gm)].map(([, chain, spec]) => `-D ${chain} ${spec}`);
        const declared = [...input.matchAll(/^:(GUESTNET-(?!MADE)\S+) - /gm)].map(([, chain]) => chain);
        const own = teardown.filter((s) => s.argv[0] === binary).map((s) => s.argv.slice(2).join(' '));
        assert.equal(inserted.length, 5);
        for (const jump of inserted)
          assert.ok(
            own.some((s) => s.endsWith(jump)),
            `${binary}: ${jump} is never deleted`,
          );
        for (const chain of declared)
          for (const verb of ['-F', '-X'])
            assert.ok(
              own.some((s) => s.endsWith(`${verb} ${chain}`)),
              `${binary}: ${verb} ${chain}`,
            );
      }
      assert.ok(
        teardown.findIndex((s) => s.argv[0] === six) < teardown.findIndex((s) => s.argv[0] === variant),
        "IPv6's go first on the way out, as they came last",
      );
    });

  it('a routed change keeps the ports; the last routed guest leaves the chains to the ports, the last port removes them', () => {
    const ipt = iptables('iptables-legacy');
    const both: FirewallContent = { ...port, guests: [SAMPLE_RULE] };
    const [v4, v6] = runs(ipt.change(port, both));
    assert.ok(v4?.input?.includes(PORT_IN) && v4.input.includes('-A GUESTNET-SOURCES -s 172.17.3.3/32 -i vm_wlan -j RETURN'));
    assert.ok(v6?.input?.includes(PORT_OUT), 'an IPv4-only guest beside a bridged one: ip6tables keeps the port');
    const lastRouted = runs(ipt.change(both, port));
    assert.deepEqual(
      lastRouted.map((s) => s.argv[0]),
      ['iptables-legacy-restore', 'ip6tables-legacy-restore'],
      'rewritten, not removed',
    );
    assert.ok(!lastRouted[0]?.input?.includes('172.17.3.3'));
    assert.ok(lastRouted.every((s) => s.input?.includes(PORT_IN)));
    const routedOnly = runs(ipt.change(both, { ...both, bridgedPorts: [] }));
    assert.equal(routedOnly[0]?.argv[0], 'iptables-legacy-restore');
    assert.ok(!routedOnly[0]?.input?.includes('physdev') && !routedOnly[0]?.unsupported?.message.includes('physdev'));
    assert.ok(
      routedOnly.slice(1).every((s) => s.argv[0] === 'ip6tables-legacy' && s.tolerate),
      "ip6tables' chains go with the last port where no guest has IPv6",
    );
  });

  it('the drift check sees a port only where both families let it through', () => {
    const chains = (family: '4' | '6') =>
      [
        '*filter',
        ...['FORWARD', 'OPEN', 'OPEN-TO', 'INPUT', 'ANTISPOOF', 'SOURCES', ...(family === '6' ? ['ND'] : [])].map(
          (c) => `:GUESTNET-${c} - [0:0]`,
        ),
        '-A INPUT -j GUESTNET-INPUT',
        '-A FORWARD -j GUESTNET-FORWARD',
        '-A GUESTNET-FORWARD -j GUESTNET-ANTISPOOF',
        PORT_IN,
        PORT_OUT,
        'COMMIT',
        '*nat',
        ...['POSTROUTING', 'PREROUTING', 'OUTPUT'].map((c) => `:GUESTNET-${c} - [0:0]`),
        '-A PREROUTING -m addrtype --dst-type LOCAL -j GUESTNET-PREROUTING',
        '-A OUTPUT -m addrtype --dst-type LOCAL -j GUESTNET-OUTPUT',
        '-A POSTROUTING -j GUESTNET-POSTROUTING',
        'COMMIT',
      ].join('\n');
    assert.equal(parseIptablesSave(chains('4'), chains('6')).hasPort('vm_br0'), true);
    assert.equal(parseIptablesSave(chains('4'), chains('6')).hasPort('vm_br1'), false, 'another port');
    assert.equal(parseIptablesSave(chains('4')).hasPort('vm_br0'), false, 'ip6tables not read');
    assert.equal(parseIptablesSave(chains('4'), chains('6').replace(`${PORT_OUT}\n`, '')).hasPort('vm_br0'), false, 'one rule flushed');
    assert.equal(
      parseIptablesSave(chains('4').replace('-A FORWARD -j GUESTNET-FORWARD\n', ''), chains('6')).hasPort('vm_br0'),
      false,
      'the jump to our chain is gone',
    );
  });
});
