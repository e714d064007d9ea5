import type { OpTiming } from '../exec/apply.js';
import type { Level } from '../log.js';
import { describeType } from '../model/link-type.js';
import { describePortForward } from '../model/port-forward.js';
import { type AttachmentRecord, guestLabel, hasGuestLink, isRouted } from '../model/record.js';
import type { ForwardResult } from '../service/host-side.js';
import type { Recovery } from '../service/recovery.js';
import type { AttachResult, DetachAllResult, DetachResult } from '../service/results.js';
import type { DhcpEvent } from '../dhcp/core.js';
import type { ControlRequest, ManyResults } from './control.js';
import { limitedWarning } from './rate-limit.js';

// The daemon's log, one line per event a person debugging a guest asks
// about: which guest, what changed and how long it took. Requests are logged
// by wrapping the control handler from outside, so the daemon's own code
// stays about serving them.

type Log = (level: Level, message: string, meta?: Record<string, unknown>) => void;
type Handler = (request: ControlRequest, cancelled: AbortSignal) => Promise<unknown>;
type Change = Exclude<ControlRequest, { type: 'status' }>;

const subject = (request: Change) =>
  'pid' in request ? { guest: `pid ${request.pid}` } : request.type === 'cni' ? { command: request.command } : {};

/** How long its steps took together: a guest changed by the daemon's own loop. */
const stepsMs = (steps: OpTiming[]) => Math.round(steps.reduce((sum, step) => sum + step.ms, 0));

function attached(result: AttachResult): Record<string, unknown> {
  const a = result.attachment;
  return {
    ...(isRouted(a) ? { hostIf: a.hostIf, uplink: a.uplink } : { type: describeType(a) }),
    ...(hasGuestLink(a) && !a.dhcp ? { address: `${a.guestAddress}/${a.prefixLength}` } : {}),
    ...(isRouted(a) && a.ipv6 ? { ipv6: `${a.ipv6.guestAddress}/${a.ipv6.prefixLength}` } : {}),
    // Not `agent`: every JSON line carries agent: 'host', which tells the host agent's log from the guest agent's.
    guestAgent: typeof result.guest === 'string' ? result.guest : 'dhcp' in result.guest ? 'lease taken' : 'confirmed',
    changes: result.steps.length,
  };
}

/** The line for a request that succeeded. */
function done(request: Change, result: unknown): [string, Record<string, unknown>] {
  switch (request.type) {
    case 'attach':
      return ['attached', attached(result as AttachResult)];
    case 'detach': {
      const { wasAttached, steps } = result as DetachResult;
      return wasAttached ? ['detached', { changes: steps.length }] : ['nothing to detach for', {}];
    }
    case 'detachAll': {
      const { ids, steps } = result as DetachAllResult;
      return ['detached every guest', { guests: ids.length, ...(ids.length > 0 ? { ids: ids.join(' ') } : {}), changes: steps.length }];
    }
    case 'cni':
      return [`served CNI ${request.command}`, { container: request.env.CNI_CONTAINERID ?? '', ifname: request.env.CNI_IFNAME ?? '' }];
    case 'forward': {
      const { forwards, changed } = result as ForwardResult;
      const port = describePortForward(request.forward);
      const now = forwards.map(describePortForward).join(',') || 'none';
      return [request.remove ? 'stopped forwarding to' : 'forwarding to', { port, forwards: now, changed }];
    }
  }
}

const FAILED = {
  attach: 'attach failed for',
  detach: 'detach failed for',
  detachAll: 'detach --all failed',
  cni: 'CNI request failed',
  forward: 'forward failed for',
};

const withMs = ([message, meta]: [string, Record<string, unknown>], ms: number, request: Change): [string, Record<string, unknown>] => [
  message,
  { ...subject(request), ms, ...meta },
];

/**
 * The control handler, logging each request that changes something once it
 * is answered: its line is written after the reply, which the caller waits
 * for, and formatting it is not.
 */
export function loggedRequests(logNow: Log, handle: Handler): Handler {
  const log: Log = (...line) => setImmediate(() => logNow(...line));
  return async (request, cancelled) => {
    if (request.type === 'status') return handle(request, cancelled);
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    try {
      const result = await handle(request, cancelled);
      // A request for many: a line per guest, as if each had come alone.
      if ('pids' in request) {
        for (const member of (result as ManyResults).results) {
          const single = { type: 'attach' as const, pid: member.pid, settings: request.settings, wait: request.wait };
          if (member.ok) log('info', ...withMs(done(single, member.result), ms(), single));
          else log('warn', FAILED.attach, { ...subject(single), ms: ms(), error: member.error.message });
        }
        return result;
      }
      const [message, meta] = done(request, result);
      log('info', message, { ...subject(request), ms: ms(), ...meta });
      return result;
    } catch (error) {
      log('warn', FAILED[request.type], { ...subject(request), ms: ms(), error });
      throw error;
    }
  };
}

/** A guest the daemon reaped (its netns died) or repaired (someone deleted its link) on its own. */
export function logGuestReconciled(log: Log, record: AttachmentRecord, done: Recovery, hostIf?: string): void {
  const message = done.action === 'completed' ? 'repaired the live guest' : 'reaped the gone guest';
  log('info', message, {
    guest: guestLabel(record),
    ms: stepsMs(done.steps),
    id: record.id,
    ...(hostIf ? { hostIf } : {}),
    changes: done.steps.length,
  });
}

/**
 * A pass of the reconcile loop that changed the host: what it did, and one
 * line per uplink the guests moved from and to, naming them.
 */
export function logReconciled(
  log: Log,
  steps: OpTiming[],
  before: ReadonlyMap<string, AttachmentRecord>,
  after: ReadonlyMap<string, AttachmentRecord>,
): void {
  const ms = stepsMs(steps);
  log('info', 'reconciled the host', { ms, steps: steps.map((s) => s.op) });
  const moves = new Map<string, { family: string; from: string; to: string; guests: string[] }>();
  const note = (family: string, from: string | undefined, to: string | undefined, record: AttachmentRecord) => {
    if (from === undefined || to === undefined || from === to) return;
    const key = `${family} ${from} ${to}`;
    const move = moves.get(key) ?? { family, from, to, guests: [] };
    move.guests.push(guestLabel(record));
    moves.set(key, move);
  };
  for (const [token, record] of after) {
    const was = before.get(token);
    if (!isRouted(record) || (was && !isRouted(was))) continue;
    note('ipv4', was?.uplink, record.uplink, record);
    note('ipv6', was?.ipv6?.uplink, record.ipv6?.uplink, record);
  }
  for (const { family, from, to, guests } of moves.values()) {
    log('info', 'moved guests to another uplink', { ms, family, from, to, guests: guests.join(', ') });
  }
  // --ipv6 auto guests whose IPv6 came or went with the host's.
  for (const gaining of [true, false]) {
    const ipv6Of = (r: AttachmentRecord | undefined) => (r && isRouted(r) ? r.ipv6 : undefined);
    const guests = [...after].filter(([token, record]) => {
      const was = before.get(token);
      return was !== undefined && (ipv6Of(record) !== undefined) === gaining && (ipv6Of(was) !== undefined) !== gaining;
    });
    if (guests.length === 0) continue;
    const uplink = gaining ? { uplink: ipv6Of(guests[0]?.[1])?.uplink } : {};
    const message = gaining ? 'gave guests IPv6: the host has IPv6 to share' : 'took IPv6 from guests: the host has none to share';
    log('info', message, { ms, ...uplink, guests: guests.map(([, r]) => guestLabel(r)).join(', ') });
  }
}

const RECOVERED = {
  completed: 'completed a half-done attach',
  removed: 'removed a dead guest',
  rolledBack: 'rolled back an attach that was waiting for its guest',
} as const;

/** What a starting daemon's recovery did, a line each. */
export function logRecovered(log: Log, recovered: ReadonlyArray<{ action: keyof typeof RECOVERED }>): void {
  for (const r of recovered) log('info', RECOVERED[r.action], { ...r });
}

const DHCP_LINES: Partial<Record<DhcpEvent['kind'], [Level, string]>> = {
  ack: ['info', "a guest's DHCP client took its lease"],
  renew: ['debug', "a guest's DHCP client renewed its lease"],
  offer: ['debug', "offered a guest's DHCP client its lease"],
  inform: ['debug', "answered a guest's DHCP INFORM"],
  nak: ['info', "refused a guest's DHCP client another address"],
  release: ['info', "a guest's DHCP client released its lease"],
  decline: ['warn', "a guest's DHCP client declined its lease"],
};

/** The DHCP server's events as log lines: answers by kind, refusals at most one a second. */
export function logDhcpEvent(log: Log): (event: DhcpEvent) => void {
  const refused = limitedWarning(log, 'guest DHCP request refused');
  return (event) => {
    const line = DHCP_LINES[event.kind];
    if (!line) return refused(`${event.link ?? event.mac}: ${event.reason ?? 'refused'}`);
    log(line[0], line[1], { hostIf: event.link, address: event.address, ...(event.reason ? { reason: event.reason } : {}) });
  };
}

/** How many guests' last undo failures are remembered, so that each is logged once rather than every pass. */
const UNDO_FAILURES_KEPT = 256;

/**
 * A removal that failed again (its record stays, marked undoing, and is
 * tried each pass): logged when a guest's error is new, not every pass.
 */
export function logUndoFailed(log: Log): (record: AttachmentRecord, error: Error) => void {
  const last = new Map<string, string>();
  return (record, error) => {
    if (last.get(record.id) === error.message) return;
    last.delete(record.id);
    last.set(record.id, error.message);
    if (last.size > UNDO_FAILURES_KEPT) last.delete(last.keys().next().value as string);
    log('warn', 'removing what is left of a guest failed again; tried again each pass', { guest: guestLabel(record), error });
  };
}
