import type { LastApply } from '@guestnet/protocol';
import type { Finding } from './doctor/checks.js';
import type { OpTiming } from './exec/apply.js';
import { hasGuestLink, isRouted } from './model/record.js';
import { describePortForward } from './model/port-forward.js';
import { describeHost } from './model/host-description.js';
import type { ForwardResult } from './service/host-side.js';
import type { AttachResult, DetachAllResult, DetachResult } from './service/results.js';
import type { Status } from './service/status.js';
import { type Column, fitTable, wrap } from '@guestnet/runtime/layout';

function stepLines(steps: OpTiming[]): string[] {
  return steps.map((s) => `  ${s.op} (${s.ms} ms)`);
}

export function formatAttach(pid: number, result: AttachResult): string[] {
  const a = result.attachment;
  const host = `  host  ${describeHost(a, result.firewall)}`;
  const addresses = (l: Extract<typeof a, { guestIf: string }>) =>
    l.dhcp ? 'by DHCP' : `${l.guestAddress}/${l.prefixLength}, gateway ${l.hostAddress}`;
  const guest = hasGuestLink(a)
    ? `  guest ${a.guestIf} -> ${a.guestName} ${addresses(a)}, dns ${a.dns.join(' ') || '(none)'}`
    : `  guest ${a.type === 'empty' ? 'loopback up, no other link' : 'nothing changed (none)'}`;
  const lines = [
    result.changed ? `attached pid ${pid}` : `pid ${pid} was already attached; nothing changed on the host`,
    host,
    guest,
    ...(isRouted(a) && a.ipv6
      ? [`  ipv6  ${a.ipv6.guestAddress}/${a.ipv6.prefixLength}, gateway ${a.ipv6.hostAddress}, ${a.ipv6.mode} via ${a.ipv6.uplink}`]
      : []),
    ...stepLines(result.steps),
  ];
  if (!hasGuestLink(a)) return lines;
  if (result.guest === 'not-waited') lines.push('  guest side not configured (--no-wait)');
  else if (result.guest === 'dry-run') lines.push('  dry run: nothing was changed, no guest was contacted');
  else if (result.guest === 'configured-by-host') lines.push(`  guest side configured by the host; its DNS is the caller's to set`);
  else if (result.guest === 'dhcp-served')
    lines.push(`  the daemon answers the guest's DHCP client on ${isRouted(a) ? a.hostIf : ''} (--wait-lease waits for its lease)`);
  else if ('dhcp' in result.guest) lines.push(`  the guest's DHCP client took ${result.guest.dhcp.address}`);
  else {
    const g = result.guest;
    const change = g.changes === 0 ? 'already in place' : `${g.changes} change${g.changes > 1 ? 's' : ''}`;
    lines.push(`  guest agent confirmed ${g.state.name} ${g.state.address}/${g.state.prefixLength} via ${g.state.gateway} (${change})`);
  }
  return lines;
}

export function formatDetachAll(result: DetachAllResult): string[] {
  if (result.ids.length === 0) return ['no guest is attached; nothing to do'];
  return [`detached ${result.ids.length} guest(s): ${result.ids.join(' ')}`, ...stepLines(result.steps)];
}

export function formatDetach(result: DetachResult): string[] {
  if (!result.wasAttached) return [`pid ${result.pid} is not attached; nothing to do`];
  return [`detached pid ${result.pid}`, ...stepLines(result.steps)];
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)}${units[unit]}`;
}

const leaseText = (lease: NonNullable<LastApply['lease']>) =>
  `DHCP lease ${lease.address}/${lease.prefixLength} via ${lease.gateway}, dns ${lease.dns.join(' ') || '(none)'}`;

type Guest = Status['guests'][number];

/** How a guest with no agent is configured, and for a dhcp guest its lease as the daemon knows it. */
/** A mode other than its kind's default (agent for a process, host for a CNI container, which has no pid) is worth showing. */
const otherMode = (g: Guest) => g.guestConfig !== (g.pid === null ? 'host' : 'agent');

function guestConfigText(g: Guest): string {
  if (g.guestConfig === 'host') return "configured by the host; its DNS is the caller's";
  const lease = g.dhcp;
  if (!lease) return 'its own DHCP client; no daemon to ask about its lease';
  const time = (iso: string | undefined) => iso?.slice(11, 19);
  const detail = [lease.expiresAt && `expires ${time(lease.expiresAt)}`, lease.lastRenewal && `renewed ${time(lease.lastRenewal)}`].filter(
    Boolean,
  );
  const state = lease.state === 'none' ? 'never asked since the daemon started' : lease.state;
  return `DHCP lease ${lease.address} ${state}${detail.length > 0 ? `, ${detail.join(', ')}` : ''}`;
}

const counter = (c: { packets: number; bytes: number } | null) => (c ? `${c.packets}p/${human(c.bytes)}` : '-');
const applied = (g: Guest) => (g.lastApply === null ? '-' : `${g.lastApply.ok ? 'ok' : 'FAILED'} ${g.lastApply.at.slice(11, 19)}`);

/**
 * The status table's columns in the order shown. When the table is wider than
 * the output, the columns with a drop order go first, lowest first: what every
 * guest shares (gateway), then counters, then what other lines also tell.
 */
function statusColumns(guests: Guest[], wide: boolean): Column[] {
  const column = (header: string, cell: (g: Guest) => string, dropOrder?: number): Column => ({
    header,
    cells: guests.map(cell),
    ...(dropOrder === undefined ? {} : { dropOrder }),
  });
  return [
    column('GUEST', (g) => (wide ? String(g.pid ?? g.id) : g.label)),
    column('STATE', (g) => g.state),
    column('HOST-IF', (g) => g.hostIf ?? '-', 7),
    column('GUEST-IF', (g) => `${g.guestIf ?? '-'}${g.guestLinkUp === false ? ' DOWN' : ''}`, 8),
    column('ADDRESS', (g) => (g.address === null ? '-' : `${g.address}/${g.prefixLength}`)),
    column('GATEWAY', (g) => g.gateway ?? '-', 1),
    column('UPLINK', (g) => g.uplink ?? '-', 5),
    column('AGENT', (g) => (otherMode(g) && g.guestConfig !== 'agent' ? `(${g.guestConfig})` : g.agent === 'none' ? '-' : g.agent)),
    column('LAST-APPLY', applied, 4),
    column('FROM-GUEST', (g) => counter(g.fromGuest), 3),
    column('TO-GUEST', (g) => counter(g.toGuest), 2),
    column('FORWARDS', (g) => g.forwards.map(describePortForward).join(',') || '-', 6),
  ];
}

/**
 * Plain ASCII, at most `width` columns (Infinity: --wide, every column and
 * full ids): it is read in adb shell and serial consoles.
 */
export function formatStatus(status: Status, width: number): string[] {
  if (status.guests.length === 0) return [`no guests attached${status.daemon ? '' : ' (no daemon running)'}`];
  const wide = width === Number.POSITIVE_INFINITY;
  const { lines, left } = fitTable(statusColumns(status.guests, wide), width);
  const name = (g: Guest) => (g.pid === null ? (wide ? g.id : g.label) : `pid ${g.pid}`);
  const failed = status.guests.filter((g) => g.lastApply && !g.lastApply.ok);
  const blocked = status.guests.filter((g) => g.blocked !== null && g.state === 'alive');
  const notes = [
    ...(left.length > 0 ? [`(--wide adds ${left.join(' ')})`] : []),
    ...status.guests.flatMap((g) => (g.type === 'veth (routed)' ? [] : [`${name(g)}: ${g.type}`])),
    ...status.guests.flatMap((g) => (g.lastApply?.lease ? [`${name(g)}: ${leaseText(g.lastApply.lease)}`] : [])),
    ...status.guests.flatMap((g) =>
      g.ipv6 ? [`${name(g)}: IPv6 ${g.ipv6.address}/${g.ipv6.prefixLength} via ${g.ipv6.gateway}, ${g.ipv6.mode} on ${g.ipv6.uplink}`] : [],
    ),
    ...status.guests.flatMap((g) => (otherMode(g) && g.guestConfig !== 'agent' ? [`${name(g)}: ${guestConfigText(g)}`] : [])),
    ...failed.map((g) => `${name(g)}: last apply failed: ${g.lastApply?.error ?? ''}`),
    ...status.guests.flatMap((g) =>
      g.undoing ? [`${name(g)}: being removed: a step of its removal failed; the daemon's next pass or a detach removes the rest`] : [],
    ),
    ...blocked.map((g) => `${name(g)}: CANNOT BE ONLINE: ${g.blocked}`),
  ];
  return [...lines, ...notes.flatMap((note) => wrap(note, width, '    '))];
}

/** Each finding on lines of at most `width`, continued under its text; a count that agrees with itself. */
export function formatDoctor(findings: Finding[], width: number): string[] {
  const mark = { ok: '[ok]  ', warn: '[warn]', fail: '[FAIL]' } as const;
  const lines = findings.flatMap((f) => [
    ...wrap(`${mark[f.status]} ${f.check}: ${f.detail}`, width, ' '.repeat(7)),
    ...(f.fix && f.status !== 'ok' ? wrap(`       fix: ${f.fix}`, width, ' '.repeat(12)) : []),
  ]);
  const failed = findings.filter((f) => f.status === 'fail').length;
  return [...lines, failed === 0 ? 'nothing blocks guests' : failed === 1 ? '1 problem blocks guests' : `${failed} problems block guests`];
}

export function formatForward(result: ForwardResult): string[] {
  const now = result.forwards.map(describePortForward).join(', ') || 'none';
  return [`${result.changed ? 'pid' : 'nothing changed; pid'} ${result.id} now forwards: ${now}`];
}
