import assert from 'node:assert/strict';
import { type GuestRule, iptables, parseIptablesSave, ruleOf, type Step } from '@guestnet/host-agent';
import { inputTo, linesStarting, savedAfter } from '../../../fixtures/firewall.js';
import { installed, NO_RULES, sampleRecord } from '../../../fixtures/records.js';

// A --guest-config dhcp guest's client on iptables: it asks from 0.0.0.0
// before it has an address; a request from its link is accepted only with its
// MAC as the frame's source and as chaddr (read with -m u32), at a rate per
// link; its MAC from any other link is dropped. All of it before the accept
// of established traffic.

const rule: GuestRule = ruleOf(sampleRecord({ pid: 4242, dns: ['172.17.3.2'], guestConfig: 'dhcp', guestMac: '02:ab:cd:0e:0f:10' }));
const second: GuestRule = ruleOf(
  sampleRecord({ pid: 4244, hostIf: 'vm_wlan2', guestAddress: '172.17.3.5', guestConfig: 'dhcp', guestMac: '02:67:6e:11:03:05' }),
);
const plain: GuestRule = ruleOf(sampleRecord({ pid: 4243, hostIf: 'vm_wlan1', guestAddress: '172.17.3.4', dns: [] }));
const changeTo = (...guests: GuestRule[]) => iptables('iptables').change(NO_RULES, installed(...guests));
const restore = (...guests: GuestRule[]) => inputTo(changeTo(...guests), 'iptables-restore');
const input = (...guests: GuestRule[]) => linesStarting(restore(...guests), '-A GUESTNET-INPUT ');

/** The u32 test on the sample MAC, exactly as iptables-save 1.8.9 printed it back (legacy and nft alike). */
const SAVED_U32 = '0x0>>0x16&0x3c@0x24=0x2abcd0e&&0x0>>0x16&0x3c@0x26=0xcd0e0f10';

/** What xt_u32 does with the tests written here ("A>>B&C@D=E" joined by &&), on an IPv4 packet from its IP header on. */
function u32Matches(test: string, packet: Buffer): boolean {
  return test.split('&&').every((part) => {
    const m = /^(0x[0-9a-f]+)>>(0x[0-9a-f]+)&(0x[0-9a-f]+)@(0x[0-9a-f]+)=(0x[0-9a-f]+)$/.exec(part);
    assert.ok(m, `unexpected u32 test ${part}`);
    const [at, shift, mask, offset, value] = m.slice(1).map(Number) as [number, number, number, number, number];
    const base = (packet.readUInt32BE(at) >>> shift) & mask;
    if (base + offset + 4 > packet.length) return false;
    return packet.readUInt32BE(base + offset) === value;
  });
}

/** An IPv4 packet with `optionWords` words of IP options, a UDP header, and a BOOTP request whose chaddr is `mac`. */
function request(mac: string, optionWords = 0, bootpLength = 240): Buffer {
  const ip = Buffer.alloc(20 + 4 * optionWords);
  ip[0] = 0x40 | (5 + optionWords);
  ip[9] = 17;
  const udp = Buffer.from([0, 68, 0, 67, 0, 0, 0, 0]);
  const bootp = Buffer.alloc(bootpLength);
  bootp[0] = 1;
  if (bootpLength >= 34) Buffer.from(mac.split(':').map((h) => Number.parseInt(h, 16))).copy(bootp, 28);
  return Buffer.concat([ip, udp, bootp]);
}

const u32Of = (line: string | undefined) => /--u32 (\S+)/.exec(line ?? '')?.[1] ?? '';

describe('firewall/iptables-dhcp: the rules of dhcp guests', () => {
  it('lets its link alone send from 0.0.0.0 to port 67; no DHCP rule names a guest without dhcp', () => {
    const text = restore(rule, plain);
    assert.match(text, /^-A GUESTNET-ANTISPOOF -s 0\.0\.0\.0\/32 -i vm_wlan -p udp -m udp --sport 68 --dport 67 -j RETURN$/m);
    assert.ok(!text.split('\n').some((l) => /vm_wlan1 .*--dport 67/.test(l)));
  });

  it("accepts a request from its link only with its MAC as the frame's source and as chaddr, within the link's rate", () => {
    assert.deepEqual(
      input(rule).filter((l) => l.includes('--dport 67')),
      [
        '-A GUESTNET-INPUT -i vm_wlan -p udp -m udp --sport 68 --dport 67 -m mac --mac-source 02:ab:cd:0e:0f:10 ' +
          `-m u32 --u32 ${SAVED_U32} -m hashlimit --hashlimit-upto 20/sec --hashlimit-burst 20 --hashlimit-name guestnet-dhcp-vm_wlan -j ACCEPT`,
        '-A GUESTNET-INPUT -i vm_wlan -p udp -m udp --dport 67 -j DROP',
        `-A GUESTNET-INPUT ! -i vm_wlan -p udp -m udp --dport 67 -m u32 --u32 ${SAVED_U32} -j DROP`,
      ],
    );
  });

  it('decides port 67 before the accept of established traffic, so an established flow is held to the same checks', () => {
    const lines = input(rule, plain);
    const established = lines.findIndex((l) => l.includes('--ctstate RELATED,ESTABLISHED'));
    const dhcp = lines.flatMap((l, i) => (l.includes('--dport 67') ? [i] : []));
    assert.equal(dhcp.length, 3);
    assert.ok(dhcp.every((i) => i < established));
  });

  it("reads chaddr past the IP header's own length, 28 bytes into the BOOTP message", () => {
    const test = u32Of(input(rule).find((l) => l.endsWith('-j ACCEPT') && l.includes('--dport 67')));
    for (const options of [0, 1, 10]) {
      assert.equal(u32Matches(test, request('02:ab:cd:0e:0f:10', options)), true, `${options} option words`);
      assert.equal(u32Matches(test, request('02:ab:cd:0e:0f:11', options)), false);
      assert.equal(u32Matches(test, request('03:ab:cd:0e:0f:10', options)), false);
    }
    assert.equal(u32Matches(test, request('02:ab:cd:0e:0f:10', 0, 30)), false, 'a request too short for chaddr');
  });

  it('gives each dhcp link its own rate and drops each guest MAC that arrives on another link', () => {
    const lines = input(rule, second);
    assert.deepEqual(
      lines.flatMap((l) => /--hashlimit-name (guestnet-dhcp-\S+)/.exec(l)?.[1] ?? []),
      ['guestnet-dhcp-vm_wlan', 'guestnet-dhcp-vm_wlan2'],
    );
    const foreign = lines.filter((l) => l.includes('! -i'));
    assert.deepEqual(
      foreign.map((l) => /! -i (\S+)/.exec(l)?.[1]),
      ['vm_wlan', 'vm_wlan2'],
    );
    assert.ok(u32Matches(u32Of(foreign[1]), request('02:67:6e:11:03:05')));
  });

  it('writes a MAC as iptables-save prints it (lower case), and refuses one that is no MAC', () => {
    const upper = ruleOf(sampleRecord({ guestConfig: 'dhcp', guestMac: '02:AB:CD:0E:0F:10' }));
    assert.deepEqual(input(upper), input(rule));
    assert.throws(() => restore({ ...rule, dhcp: { mac: '02:ab:cd:0e:0f' } }), /not a MAC address/);
  });

  it('reads its rules back from iptables-save as in place, u32 tests quoted, so the steady state writes nothing', () => {
    const save = savedAfter(restore(rule, second, plain));
    assert.ok(save.includes(`--u32 "${SAVED_U32}"`));
    const state = parseIptablesSave(save);
    assert.equal(state.installed, true);
    for (const guest of [rule, second, plain]) assert.equal(state.has(guest), true, guest.hostIf);
    assert.equal(parseIptablesSave(save.replace(`--u32 "${SAVED_U32}"`, `--u32 ${SAVED_U32}`)).has(rule), false);
  });

  it('says in one line that the kernel lacks a match, as iptables prints it, rather than that a command failed', () => {
    const step = changeTo(rule).find((s): s is Step & { kind: 'run' } => s.kind === 'run' && s.argv[0] === 'iptables-restore');
    const when = step?.unsupported?.when;
    assert.ok(when);
    // What iptables-nft and iptables-legacy 1.8.9 print for a match the kernel lacks, and for one iptables lacks.
    for (const stderr of [
      'Warning: Extension u32 revision 0 not supported, missing kernel module?\n' +
        'iptables-nft-restore v1.8.9 (nf_tables): \nline 12: RULE_APPEND failed (No such file or directory): rule in chain GUESTNET-INPUT\n',
      'Warning: Extension hashlimit revision 3 not supported, missing kernel module?\niptables-restore: line 14 failed\n',
      'Warning: Extension mac revision 0 not supported, missing kernel module?\niptables-restore: line 14 failed\n',
      "iptables-restore v1.8.9 (legacy): Couldn't load match `u32':No such file or directory\n\nError occurred at line: 12\n",
    ])
      assert.match(stderr, when);
    assert.doesNotMatch('iptables-restore: line 4 failed\n', when);
    assert.doesNotMatch('Warning: Extension ipvs revision 0 not supported, missing kernel module?\n', when);
    assert.match(
      step?.unsupported?.message ?? '',
      /^this kernel or iptables lacks the u32, mac or hashlimit match .*; nothing was changed$/,
    );
    assert.ok(!step?.unsupported?.message.includes('\n'));
  });
});
