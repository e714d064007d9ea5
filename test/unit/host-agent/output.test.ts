import assert from 'node:assert/strict';
import { type Finding, formatDoctor, formatStatus, type GuestStatus } from '@guestnet/host-agent';

const CONTAINER = 'f00dfeed0123456789abcdef0123456789abcdef0123456789abcdef01234567';

function guest(overrides: Partial<GuestStatus> = {}): GuestStatus {
  return {
    pid: 19492,
    id: '19492',
    label: '19492',
    state: 'alive',
    undoing: false,
    type: 'veth (routed)',
    hostIf: 'vm_wlan',
    guestIf: 'wlan0',
    guestLinkUp: true,
    address: '172.17.3.3',
    prefixLength: 16,
    gateway: '172.17.3.2',
    uplink: 'wlan0',
    ipv6: null,
    mac: '02:00:ac:11:03:03',
    agent: 'connected',
    guestConfig: 'agent',
    dhcp: null,
    lastApply: { ok: true, at: '2025-05-01T04:16:35.000Z', changes: 3 },
    fromGuest: { packets: 8123, bytes: 580_000 },
    toGuest: { packets: 9123, bytes: 6_660_000 },
    forwards: [{ protocol: 'tcp', hostPort: 5555, guestPort: 5555 }],
    blocked: null,
    ...overrides,
  } as GuestStatus;
}

const cni = (n: number) =>
  guest({
    pid: null,
    id: `cni-${CONTAINER}-eth${n}`,
    label: `${CONTAINER.slice(0, 12)}/eth${n}`,
    hostIf: `gn${CONTAINER.slice(0, 10)}${n}`,
    guestIf: `eth${n}`,
    agent: 'none',
    lastApply: null,
    type: 'macvlan on eth1',
    ipv6: { mode: 'nat', address: 'fd12:3456:789a:1::ac11:304', prefixLength: 64, gateway: 'fd12:3456:789a:1::ac11:302', uplink: 'wlan0' },
  });

const widest = (lines: string[]) => Math.max(...lines.map((line) => line.length));

describe('status and doctor output', () => {
  const status = {
    daemon: true,
    guests: [
      guest(),
      guest({ pid: 4194303, id: '4194303', label: '4194303', hostIf: 'vm_wlan1', guestIf: 'vm_wlan0', guestLinkUp: false, agent: 'none' }),
      cni(0),
      cni(1),
    ],
  };

  it('fits 80 columns with CNI ids, leaving out columns and saying which', () => {
    const lines = formatStatus(status, 80);
    assert.ok(widest(lines) <= 80, lines.join('\n'));
    assert.match(lines[0] ?? '', /^GUEST\s+STATE\s+HOST-IF\s+GUEST-IF\s+ADDRESS\s+AGENT/);
    assert.ok(lines.includes('(--wide adds GATEWAY UPLINK LAST-APPLY FROM-GUEST TO-GUEST FORWARDS)'), lines.join('\n'));
    assert.match(lines[3] ?? '', new RegExp(`^${CONTAINER.slice(0, 12)}/eth0 +alive`));
    assert.doesNotMatch(lines.join('\n'), new RegExp(CONTAINER));
  });

  it('says - where no agent is expected, and shows a guest link as it is: vm_wlan0 and down', () => {
    const lines = formatStatus(status, 80);
    assert.match(lines[2] ?? '', /^4194303\s+alive\s+vm_wlan1\s+vm_wlan0 DOWN\s+172\.17\.3\.3\/16\s+-(\s|$)/);
    assert.match(lines[3] ?? '', /\s-(\s|$)/);
    assert.match(lines[1] ?? '', /\sconnected(\s|$)/);
  });

  it('honours a narrower or wider width, and --wide shows every column and the full id', () => {
    assert.ok(widest(formatStatus(status, 60)) <= 60);
    const wider = formatStatus(status, 200);
    assert.match(wider[0] ?? '', /FORWARDS$/);
    const wide = formatStatus(status, Number.POSITIVE_INFINITY);
    assert.match(
      wide[0] ?? '',
      /^GUEST\s+STATE\s+HOST-IF\s+GUEST-IF\s+ADDRESS\s+GATEWAY\s+UPLINK\s+AGENT\s+LAST-APPLY\s+FROM-GUEST\s+TO-GUEST\s+FORWARDS$/,
    );
    assert.match(wide.join('\n'), new RegExp(`^cni-${CONTAINER}-eth0 `, 'm'));
    assert.doesNotMatch(wide.join('\n'), /--wide adds/);
  });

  it('wraps the lines below the table within the width', () => {
    const lines = formatStatus(status, 80);
    assert.ok(lines.some((line) => /^f00dfeed0123\/eth0: IPv6 fd12:3456:789a:1::ac11:304\/64 via/.test(line)));
    assert.ok(
      lines.some((line) => /^ {4}\S/.test(line)),
      'a long line is continued, indented',
    );
  });

  const finding = (status: Finding['status'], detail: string, fix?: string): Finding => ({
    check: 'forward',
    status,
    detail,
    ...(fix ? { fix } : {}),
  });

  it('says of a guest whose removal failed part way that it is being removed, and what removes the rest', () => {
    const lines = formatStatus({ guests: [guest({ undoing: true })], daemon: true } as Parameters<typeof formatStatus>[0], 80);
    assert.ok(
      lines.some((l) => l.startsWith('pid 19492: being removed: a step of its removal failed')),
      lines.join('\n'),
    );
    assert.ok(
      !formatStatus({ guests: [guest()], daemon: true } as Parameters<typeof formatStatus>[0], 80).some((l) => l.includes('being removed')),
    );
  });

  it('doctor: every line within the width, continued under its text, and a count that agrees', () => {
    const long = "inet filter forward has policy drop: an accept in guestnet's table cannot override a drop in another table";
    const findings = [finding('ok', 'fine'), finding('fail', long, 'add "iifname vm_wlan* accept" and "oifname vm_wlan* accept" to it')];
    const lines = formatDoctor(findings, 80);
    assert.ok(widest(lines) <= 80, lines.join('\n'));
    assert.equal(lines[1], "[FAIL] forward: inet filter forward has policy drop: an accept in guestnet's");
    assert.match(lines[2] ?? '', /^ {7}table cannot override/);
    assert.match(lines[3] ?? '', /^ {7}fix: add/);
    assert.equal(lines.at(-1), '1 problem blocks guests');
    assert.equal(formatDoctor([...findings, finding('fail', 'x')], 80).at(-1), '2 problems block guests');
    assert.equal(formatDoctor([finding('warn', 'x')], 80).at(-1), 'nothing blocks guests');
  });
});
