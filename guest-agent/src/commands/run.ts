import { connect, type Socket } from 'node:net';
import { watch } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AppliedState,
  checkToken,
  type Configure,
  describeError,
  FramedConnection,
  type HostMessage,
  parseHostMessage,
  PROTOCOL_VERSION,
  ProtocolError,
} from '@guestnet/protocol';
import { applyGuest } from '../apply.js';
import { NetEvents } from '../events.js';
import { observeGuest } from '../observe.js';
import { findOurLink, planGuest } from '../planner.js';

export interface RunOptions {
  socket: string;
  resolvConf: string;
  once: boolean;
  onEvent: (message: string, meta?: Record<string, unknown>) => void;
}

export interface ApplyReport {
  state: AppliedState;
  changes: number;
}

const CONFIGURE_DEADLINE_MS = 10_000;

// Quick at first, so a guest that starts just before its host attaches is online
// at once; capped, so a guest waiting for a host that never comes stays cheap.
// A link event (our link arriving) cuts any wait short.
function backoffMs(attempt: number): number {
  return Math.min(50 * 2 ** attempt, 2000);
}

function connectTo(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => (socket.off('error', reject), resolve(socket)));
    socket.once('error', reject);
  });
}

async function ourTokens(resolvConf: string): Promise<string[]> {
  const observed = await observeGuest(resolvConf);
  return observed.links.map((link) => link.alias).filter((alias): alias is string => checkToken(alias).ok);
}

/** Reads back what is in force, so the host is told facts, not intentions. */
async function verifiedState(configure: Configure, resolvConf: string): Promise<AppliedState> {
  const observed = await observeGuest(resolvConf);
  const link = findOurLink(observed, configure.token);
  const want = configure.link;
  const cidr = `${want.address}/${want.prefixLength}`;
  if (!link || !link.up || !link.addresses.includes(cidr)) throw new Error(`${want.rename} is not up with ${cidr} after applying`);
  if (observed.defaultRoute?.gateway !== want.gateway) throw new Error(`no default route via ${want.gateway} after applying`);
  return { name: link.name, mtu: link.mtu, address: want.address, prefixLength: want.prefixLength, gateway: want.gateway, dns: configure.dns };
}

async function session(
  connection: FramedConnection<HostMessage>,
  tokens: string[],
  options: RunOptions,
  applied: { configure: Configure | undefined },
): Promise<ApplyReport> {
  connection.send({ type: 'hello', version: PROTOCOL_VERSION, tokens, capabilities: ['resolv.conf'] });
  const message = await connection.receive(CONFIGURE_DEADLINE_MS);
  if (message.type === 'error') throw new ProtocolError(`host refused: ${message.message}`);
  try {
    const { ops, state } = await oneAtATime(async () => {
      const ops = planGuest(await observeGuest(options.resolvConf), message, options.resolvConf);
      await applyGuest(ops);
      return { ops, state: await verifiedState(message, options.resolvConf) };
    });
    applied.configure = message;
    connection.send({ type: 'applied', token: message.token, ok: true, changes: ops.length, state });
    return { state, changes: ops.length };
  } catch (error) {
    const { code, message: text } = describeError(error);
    connection.send({ type: 'applied', token: message.token, ok: false, error: { code, message: text.slice(0, 200) } });
    throw error;
  }
}

/**
 * Watches the socket's directory, then tries once more (the host may have
 * started listening in between), then waits up to `ms` for a change there.
 * Resolves to a connected socket, or undefined to go round again.
 */
async function connectOnChange(path: string, ms: number): Promise<Socket | undefined> {
  const abort = new AbortController();
  const watcher = watch(dirname(path), { signal: abort.signal });
  const changed = (async () => {
    try {
      for await (const _ of watcher) return;
    } catch {
      // No directory (yet) to watch, or aborted: the timer decides.
    }
  })();
  try {
    const socket = await connectTo(path).catch(() => undefined);
    if (!socket) await Promise.race([sleep(ms), changed]);
    return socket;
  } finally {
    abort.abort();
  }
}

/**
 * Waits for a link from the host and for the host agent's socket, applies
 * what the host sends, confirms, and (unless `once`) goes back to waiting so
 * a later attach or a restarted host finds it ready. Running it again is
 * harmless: an applied configuration plans to zero changes.
 */
// One plan-and-apply at a time: the host's configure and a drift repair must
// not interleave their ip -batch runs.
let applying: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const run = applying.then(work, work);
  applying = run.catch(() => {});
  return run;
}

// Drift the kernel does not announce (a rewritten resolv.conf) is caught this often.
const RECHECK_MS = 10_000;

/**
 * Keeps the last configuration in force while the agent runs, host connected
 * or not: someone deleting the default route or the address is repaired on
 * the kernel event it causes.
 */
async function keepApplied(applied: { configure: Configure | undefined }, events: NetEvents, options: RunOptions, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    await events.next(RECHECK_MS);
    const configure = applied.configure;
    if (stopped() || !configure) continue;
    try {
      const repaired = await oneAtATime(async () => {
        const ops = planGuest(await observeGuest(options.resolvConf), configure, options.resolvConf);
        await applyGuest(ops);
        return ops.map((op) => op.kind);
      });
      if (repaired.length > 0) options.onEvent('repaired drift', { changes: repaired });
    } catch {
      // Our link is gone (detached): nothing to keep until the host configures us again.
      applied.configure = undefined;
    }
  }
}

export async function run(options: RunOptions): Promise<ApplyReport | undefined> {
  const events = new NetEvents();
  await events.start();
  const applied = { configure: undefined as Configure | undefined };
  let stopped = false;
  const keeper = options.once ? Promise.resolve() : keepApplied(applied, events, options, () => stopped);
  try {
    return await serveHost(options, events, applied);
  } finally {
    stopped = true;
    events.stop();
    await keeper;
  }
}

async function serveHost(options: RunOptions, events: NetEvents, applied: { configure: Configure | undefined }): Promise<ApplyReport | undefined> {
  for (let attempt = 0; ; attempt++) {
    const tokens = await ourTokens(options.resolvConf);
    if (tokens.length === 0) {
      // The kernel announces a new link but not its alias being set a moment
      // later, so after any event look again quickly.
      if (await events.next(backoffMs(attempt))) attempt = -1;
      continue;
    }
    const socket = await connectTo(options.socket).catch(() => connectOnChange(options.socket, backoffMs(attempt)));
    if (!socket) continue;
    const connection = new FramedConnection<HostMessage>(socket, parseHostMessage);
    try {
      const report = await session(connection, tokens, options, applied);
      options.onEvent('applied', { ...report });
      attempt = -1;
      if (options.once) {
        connection.end();
        return report;
      }
      await connection.closed;
    } catch (error) {
      options.onEvent('host session failed', { error: describeError(error) });
      connection.destroy();
      await sleep(backoffMs(attempt));
    }
  }
}
