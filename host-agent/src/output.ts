import type { LastApply } from '@guestnet/protocol';
import type { Finding } from './doctor/checks.js';
import type { OpTiming } from './exec/apply.js';
import { describeType, hasGuestLink, isBridged, isRouted, typeOf } from './model/link-type.js';
import { describePortForward } from './model/port-forward.js';
import type { ForwardResult } from './service/host-side.js';
import type { AttachResult, DetachAllResult, DetachResult } from './service/results.js';
import type { Status } from './service/status.js';

function stepLines(steps: OpTiming[]): string[] {
  return steps.map((s) => `  ${s.op} (${s.ms} ms)`);
}

export function formatAttach(pid: number, result: AttachResult): string[] {
  const a = result.attachment;
  const type = typeOf(a);
  const host = isRouted(a)
    ? `  host  ${a.hostIf} ${a.hostAddress} peer ${a.guestAddress}, uplink ${a.uplink}, firewall ${result.firewall}`
    : `  host  ${describeType(a)}${isBridged(a) ? `, port ${a.hostIf}` : ''}; no NAT and no rules of guestnet's`;
  const guest = hasGuestLink(a)
    ? `  guest ${a.guestIf} -> ${a.guestName} ${a.guestAddress}/${a.prefixLength}, gateway ${a.hostAddress}, dns ${a.dns.join(' ') || '(none)'}`
    : `  guest ${type === 'empty' ? 'loopback up, no other link' : 'nothing changed (none)'}`;
  const lines = [
    result.changed ? `attached pid ${pid}` : `pid ${pid} was already attached; nothing changed on the host`,
    host,
    guest,
    ...(a.ipv6
      ? [`  ipv6  ${a.ipv6.guestAddress}/${a.ipv6.prefixLength}, gateway ${a.ipv6.hostAddress}, ${a.ipv6.mode} via ${a.ipv6.uplink}`]
      : []),
    ...stepLines(result.steps),
  ];
  if (!hasGuestLink(a)) return lines;
  if (result.guest === 'not-waited') lines.push('  guest side not configured (--no-wait)');
  else if (result.guest === 'dry-run') lines.push('  dry run: nothing was changed, no guest was contacted');
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

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

const leaseText = (lease: LastApply['lease']) =>
  lease ? `, DHCP lease ${lease.address}/${lease.prefixLength} via ${lease.gateway}, dns ${lease.dns.join(' ') || '(none)'}` : '';

/** Plain ASCII columns: it is read in adb shell and serial consoles. */
export function formatStatus(status: Status): string[] {
  if (status.guests.length === 0) return [`no guests attached${status.daemon ? '' : ' (no daemon running)'}`];
  const rows = [
    ['PID', 'STATE', 'HOST-IF', 'GUEST-IF', 'ADDRESS', 'GATEWAY', 'UPLINK', 'AGENT', 'LAST-APPLY', 'FROM-GUEST', 'TO-GUEST', 'FORWARDS'],
  ];
  for (const g of status.guests) {
    const apply =
      g.lastApply === null ? '-' : g.lastApply.ok ? `ok ${g.lastApply.at.slice(11, 19)}` : `FAILED ${g.lastApply.at.slice(11, 19)}`;
    const counter = (c: { packets: number; bytes: number } | null) => (c ? `${c.packets}p/${human(c.bytes)}` : '-');
    const forwards = g.forwards.map(describePortForward).join(',') || '-';
    rows.push([
      String(g.pid ?? g.id),
      g.state,
      g.hostIf,
      g.guestIf,
      `${g.address}/${g.prefixLength}`,
      g.gateway,
      g.uplink,
      g.agent,
      apply,
      counter(g.fromGuest),
      counter(g.toGuest),
      forwards,
    ]);
  }
  const label = (g: Status['guests'][number]) => (g.pid === null ? g.id : `pid ${g.pid}`);
  const failed = status.guests.filter((g) => g.lastApply && !g.lastApply.ok);
  const blocked = status.guests.filter((g) => g.blocked !== null && g.state === 'alive');
  return [
    ...table(rows),
    ...status.guests.flatMap((g) => (g.type === 'veth (routed)' ? [] : [`${label(g)}: ${g.type}${leaseText(g.lastApply?.lease)}`])),
    ...status.guests.flatMap((g) =>
      g.ipv6
        ? [`${label(g)}: IPv6 ${g.ipv6.address}/${g.ipv6.prefixLength} via ${g.ipv6.gateway}, ${g.ipv6.mode} on ${g.ipv6.uplink}`]
        : [],
    ),
    ...failed.map((g) => `${label(g)}: last apply failed: ${g.lastApply?.error ?? ''}`),
    ...blocked.map((g) => `${label(g)}: CANNOT BE ONLINE: ${g.blocked}`),
  ];
}

export function formatDoctor(findings: Finding[]): string[] {
  const mark = { ok: '[ok]  ', warn: '[warn]', fail: '[FAIL]' } as const;
  const lines = findings.flatMap((f) => [
    `${mark[f.status]} ${f.check}: ${f.detail}`,
    ...(f.fix && f.status !== 'ok' ? [`       fix: ${f.fix}`] : []),
  ]);
  const failed = findings.filter((f) => f.status === 'fail').length;
  return [...lines, failed === 0 ? 'nothing blocks guests' : `${failed} problem${failed > 1 ? 's' : ''} block guests`];
}

export function formatForward(result: ForwardResult): string[] {
  const now = result.forwards.map(describePortForward).join(', ') || 'none';
  return [`${result.changed ? 'pid' : 'nothing changed; pid'} ${result.id} now forwards: ${now}`];
}
