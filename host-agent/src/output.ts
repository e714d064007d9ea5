import type { AttachResult } from './commands/attach.js';
import type { DetachResult } from './commands/detach.js';
import type { AppliedOp } from './exec/apply.js';

function stepLines(steps: AppliedOp[]): string[] {
  return steps.map((s) => `  ${s.op} (${s.ms} ms)`);
}

export function formatAttach(pid: number, result: AttachResult): string[] {
  const a = result.attachment;
  const lines = [
    result.changed ? `attached pid ${pid}` : `pid ${pid} was already attached; nothing changed on the host`,
    `  host  ${a.hostIf} ${a.hostAddress} peer ${a.guestAddress}, uplink ${a.uplink}, firewall ${result.firewall}`,
    `  guest ${a.guestIf} -> ${a.guestName} ${a.guestAddress}/${a.prefixLength}, gateway ${a.hostAddress}, dns ${a.dns.join(' ') || '(none)'}`,
    ...stepLines(result.steps),
  ];
  if (result.guest === 'not-waited') lines.push('  guest side not configured (--no-wait)');
  else if (result.guest === 'dry-run') lines.push('  dry run: nothing was changed, no guest was contacted');
  else {
    const g = result.guest;
    const change = g.changes === 0 ? 'already in place' : `${g.changes} change${g.changes > 1 ? 's' : ''}`;
    lines.push(`  guest agent confirmed ${g.state.name} ${g.state.address}/${g.state.prefixLength} via ${g.state.gateway} (${change})`);
  }
  return lines;
}

export function formatDetach(result: DetachResult): string[] {
  if (!result.wasAttached) return [`pid ${result.pid} is not attached; nothing to do`];
  return [`detached pid ${result.pid}`, ...stepLines(result.steps)];
}
