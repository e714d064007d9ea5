import { connect, type Socket } from 'node:net';
import { watch } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeError,
  FramedConnection,
  type HostMessage,
  parseHostMessage,
  PeerClosedError,
  redact,
  secretsOf,
  tokenOfLink,
} from '@guestnet/protocol';
import { NetEvents } from '../events.js';
import { spareLooks4 } from '../ip.js';
import { follow, greet } from '../host-session.js';
import { type ApplyReport, type GuestKernel, Keeper, kernelOf, type OnEvent } from '../keeper.js';
import { type GuestObserved, withArrivedLinks } from '../observe.js';
import type { DnsTarget } from '../planner.js';
import { StatusFile } from '../status-file.js';

export type { ApplyReport } from '../keeper.js';

export interface RunOptions {
  socket: string;
  dnsTarget: DnsTarget;
  statusFile: string;
  once: boolean;
  onEvent: OnEvent;
  /** Resolves to stop a long-running agent cleanly. */
  stop: Promise<unknown>;
}

// Quick at first, so a guest that starts just before its host's socket is
// there connects at once; capped, so a guest waiting for a host that never
// comes stays cheap.
function backoffMs(attempt: number, capMs = 2000): number {
  return Math.min(10 * 2 ** attempt, capMs);
}

// Waiting for our link, a kernel event (the link arriving) ends any wait. The
// host tags a link of a lasting name in the same process that creates it, and
// the tag makes no event of its own: quick looks after an event, or after
// the first look, catch a look that fell between the two, and a link that
// arrived before `ip monitor` listened (it starts late on a loaded machine),
// which makes no event it hears. They back off over a few seconds. After them
// only a slow poll, in case something came unannounced: each look is a
// process, on a device that may wait for hours, and one that kept looking
// would do so while its host attaches it.
const QUICK_LINK_LOOKS_MS = [10, 40, 160, 640, 2560];
const LINK_LOOK_CAP_MS = 30_000;
const linkLookWaitMs = (attempt: number) => QUICK_LINK_LOOKS_MS[attempt] ?? LINK_LOOK_CAP_MS;
// A link moved in and renamed in one message (a NIC handed over) shows as two lines, which the monitor may print
// apart: the first wakes the agent, and the rename follows at once. Only a rename that never comes costs a look.
const RENAME_WITHIN_MS = 100;

function connectTo(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The agent's own netns: its kernel's events, heard from now on, and where its looks and changes run. */
export interface OwnNetns {
  events: Pick<NetEvents, 'next' | 'seq' | 'linesAfter' | 'lookStarts' | 'arrivalsOnly' | 'awaitsRename' | 'stop'>;
  kernel: GuestKernel;
  /**
   * Whether a look is kept spawned ahead. While the agent waits for its
   * link, yes: the apply that follows its arrival must not wait for a fork.
   * Once the link is found, the apply takes the one waiting, and the looks
   * after it (a repair, a recheck) can spawn their own: none waits idle
   * beside each configured guest.
   */
  looksAhead?(keep: boolean): void;
  /** Lets go of what it spawned, once the events are stopped. */
  close(): void;
}

/** This process's netns: one `ip monitor`, and (unless `once`) its IPv4 looks in one `ip` spawned ahead. */
function thisNetns(once: boolean): OwnNetns {
  const events = new NetEvents();
  events.start();
  // An agent that keeps its guest keeps one IPv4 look spawned ahead: its looks and its IPv4 applies run in it.
  const looks4 = once ? undefined : spareLooks4();
  looks4?.keep();
  return {
    events,
    kernel: kernelOf(looks4 ? { looks4 } : {}),
    looksAhead: (keep) => (keep ? looks4?.keep() : looks4?.pause()),
    close: () => looks4?.close(),
  };
}

const tokensIn = (observed: GuestObserved) => observed.links.map(tokenOfLink).filter((token): token is string => token !== undefined);

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
 * what the host sends, confirms, and (unless `once`) stays connected so a
 * later attach or a restarted host finds it ready, keeping the configuration
 * in force meanwhile. Running it again is harmless: an applied configuration
 * plans to zero changes.
 */
export async function run(options: RunOptions, netns: OwnNetns = thisNetns(options.once)): Promise<ApplyReport | undefined> {
  const { events } = netns;
  const status = new StatusFile(options.statusFile, options.socket);
  // A DHCP client's event script goes beside the status file: a place the agent may write.
  const keeper = new Keeper(options.dnsTarget, status, options.onEvent, dirname(options.statusFile), netns.kernel);
  let stopped = false;
  const keeping = options.once ? Promise.resolve() : keeper.keep(events, () => stopped);
  try {
    return await Promise.race([serveHost(options, netns, keeper, status, () => stopped), options.stop.then(() => undefined)]);
  } finally {
    stopped = true;
    events.stop();
    keeper.stop();
    await keeping;
    netns.close();
    await status.remove();
  }
}

async function serveHost(
  options: RunOptions,
  { events, kernel, looksAhead }: OwnNetns,
  keeper: Keeper,
  status: StatusFile,
  stopped: () => boolean,
): Promise<ApplyReport | undefined> {
  const look = () => {
    events.lookStarts();
    return kernel.observe(options.dnsTarget.path);
  };
  let arrived: GuestObserved | undefined;
  // Once stopped, run has returned: the loop ends too, or it would go on
  // looking and reconnecting for an agent that is gone.
  for (let attempt = 0; !stopped(); attempt++) {
    const observed = arrived ?? (await look());
    if (stopped()) break;
    arrived = undefined;
    const tokens = tokensIn(observed);
    looksAhead?.(tokens.length === 0);
    if (tokens.length === 0) {
      status.host('waiting for our link');
      // Any event may be our link: look again at once, unless the events
      // were only new pairs of the host's, which carry their token in their
      // name: then the last look and those are the guest as it is now.
      if (await events.next(linkLookWaitMs(attempt))) attempt = -1;
      if (events.awaitsRename()) await events.next(RENAME_WITHIN_MS);
      arrived = withArrivedLinks(observed, events.arrivalsOnly());
      continue;
    }
    status.host('connecting');
    const socket = await status.holdDuring(connectTo(options.socket)).catch(() => connectOnChange(options.socket, backoffMs(attempt)));
    if (!socket) continue;
    const connection = new FramedConnection<HostMessage>(socket, parseHostMessage);
    try {
      const { report, session } = await status.holdDuring(greet(connection, tokens, options.dnsTarget.kind, keeper, observed));
      options.onEvent('applied', { ...report });
      attempt = -1;
      if (options.once) {
        connection.end();
        return report;
      }
      status.host('connected');
      await follow(connection, session, keeper);
    } catch (error) {
      if (error instanceof PeerClosedError) options.onEvent('the host agent closed the session; reconnecting');
      else {
        // What failed may quote our link's one-time name, which is its token: logs keep neither.
        const described = describeError(error);
        const secrets = tokens.flatMap((token) => [...secretsOf(token), ...secretsOf(keeper.currentToken(token))]);
        options.onEvent('host session failed', { error: { ...described, message: redact(described.message, secrets) } });
      }
      connection.destroy();
      await sleep(backoffMs(attempt));
    }
  }
  return undefined;
}
