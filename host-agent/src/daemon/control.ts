import { connect, createServer, type Socket } from 'node:net';
import {
  AgentError,
  checkPid,
  describeError,
  type ExitCodeName,
  ExitCode,
  FramedConnection,
  PeerClosedError,
  ProtocolError,
  SocketBusyError,
} from '@guestnet/protocol';
import { CniError } from '../cni/error.js';
import { statePaths } from '../model/paths.js';
import { isPortForward, type PortForward } from '../model/port-forward.js';
import { removeSocket } from '../state/dir.js';

// The control channel between the CLI and `host-agent serve`. Both ends are
// root (the socket is 0600 in the root-only state dir), so frames may be large
// (a status of hundreds of guests); requests are still validated.
const MAX_CONTROL_FRAME = 4 * 1024 * 1024;

export const CNI_COMMANDS = ['ADD', 'CHECK', 'DEL', 'GC'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];
/** The variables a CNI request hands over: the runtime's, and the state dir's. */
const CNI_VARIABLE = /^(?:CNI|GUESTNET)_[A-Z_]{1,32}$/;
/** A network config is small (the plugin refuses more than this on its stdin too). */
const MAX_CNI_CONFIG = 1024 * 1024;

/** Most guests one attach request names: a farm of hundreds fits, a frame of millions does not. */
export const MAX_PIDS_PER_REQUEST = 1024;

export type ControlRequest =
  | { type: 'attach'; pid: number; settings: Record<string, unknown>; wait: boolean }
  /** Many guests with the same settings, for a launcher that starts a farm: one result each, in order (ManyResults). */
  | { type: 'attach'; pids: number[]; settings: Record<string, unknown>; wait: boolean }
  | { type: 'detach'; pid: number }
  | { type: 'detachAll' }
  /** A CNI plugin's request, handed over whole: its CNI_* and GUESTNET_* variables and its network config (daemon/cni.ts). */
  | { type: 'cni'; command: CniCommand; env: Record<string, string>; config: string }
  | { type: 'forward'; pid: number; forward: PortForward; remove: boolean }
  | { type: 'status' };

/** One guest's outcome within a request for many: its own success or its own error. */
export type MemberResult =
  | { pid: number; ok: true; result: unknown }
  | { pid: number; ok: false; error: { code: string; message: string } };

/** The result of an attach request that names `pids`: one entry per pid, in the request's order. */
export interface ManyResults {
  results: MemberResult[];
}

/** One guest's outcome as a request for many reports it. */
export function memberResult(pid: number, result: PromiseSettledResult<unknown>): MemberResult {
  if (result.status === 'fulfilled') return { pid, ok: true, result: result.value };
  const { code, message } = describeError(result.reason);
  return { pid, ok: false, error: { code, message } };
}

/** `cniCode`: a CNI request's failure keeps the spec's code it had in the daemon. */
type Reply =
  | { type: 'reply'; ok: true; result: unknown }
  | { type: 'reply'; ok: false; error: { code: string; message: string; cniCode?: number } };

// A change that meets a hung tool spends a deadline on that command and more on its rollback, and may first wait
// for the state lock behind another change or a repair that met it too.
const REPLY_DEADLINES = 4;
const REPLY_MARGIN_MS = 10_000;

/**
 * How long a CLI waits for the daemon's reply to a change before it calls the
 * daemon unresponsive: `waitMs` (an attach's wait for its guest), plus room
 * for commands that run into their deadline, `commandTimeout` each.
 */
export function replyWithin(commandTimeout: number, waitMs = 0): number {
  return waitMs + REPLY_DEADLINES * commandTimeout + REPLY_MARGIN_MS;
}

export function controlSocketPath(stateDir: string): string {
  return statePaths(stateDir).controlSocket;
}

/** A request as the daemon accepts it; anything else is a protocol error. */
export function parseRequest(raw: unknown): ControlRequest {
  const fields = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const type = Object.hasOwn(fields, 'type') ? fields.type : undefined;
  if (type === 'status' || type === 'detachAll') return { type };
  if (type === 'attach' && Object.hasOwn(fields, 'pids')) return parseManyAttach(fields);
  if (type === 'cni') return parseCni(fields);
  const pid = checkPid(fields.pid);
  if (!pid.ok) throw new ProtocolError(`control request: ${pid.reason}`);
  if (type === 'detach') return { type, pid: pid.value };
  if (type === 'forward' && isPortForward(fields.forward) && typeof fields.remove === 'boolean') {
    return { type, pid: pid.value, forward: fields.forward, remove: fields.remove };
  }
  if (type === 'attach' && typeof fields.settings === 'object' && fields.settings !== null && typeof fields.wait === 'boolean') {
    return { type, pid: pid.value, settings: fields.settings as Record<string, unknown>, wait: fields.wait };
  }
  throw new ProtocolError('unknown control request');
}

function parseCni(fields: Record<string, unknown>): ControlRequest {
  const { command, env, config } = fields;
  if (!CNI_COMMANDS.includes(command as CniCommand)) throw new ProtocolError('control request: not a CNI command the daemon serves');
  if (typeof config !== 'string' || config.length > MAX_CNI_CONFIG) throw new ProtocolError('control request: bad CNI config');
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw new ProtocolError('control request: bad CNI variables');
  const entries = Object.entries(env);
  const bad =
    entries.length > 32 || entries.some(([key, value]) => !CNI_VARIABLE.test(key) || typeof value !== 'string' || value.length > 4096);
  if (bad) throw new ProtocolError('control request: bad CNI variables');
  return { type: 'cni', command: command as CniCommand, env: Object.fromEntries(entries) as Record<string, string>, config };
}

function parseManyAttach(fields: Record<string, unknown>): ControlRequest {
  const { pids, settings, wait } = fields;
  if (!Array.isArray(pids) || pids.length === 0 || pids.length > MAX_PIDS_PER_REQUEST)
    throw new ProtocolError(`control request: pids must list 1 to ${MAX_PIDS_PER_REQUEST} process ids`);
  const checked = pids.map((pid: unknown) => checkPid(pid));
  const bad = checked.find((c) => !c.ok);
  if (bad && !bad.ok) throw new ProtocolError(`control request: ${bad.reason}`);
  const values = checked.map((c) => (c.ok ? c.value : 0));
  if (new Set(values).size !== values.length) throw new ProtocolError('control request: a pid is named twice');
  if (typeof settings !== 'object' || settings === null || typeof wait !== 'boolean') throw new ProtocolError('unknown control request');
  return { type: 'attach', pids: values, settings: settings as Record<string, unknown>, wait };
}

export function parseReply(raw: unknown): Reply {
  const fields = raw as Record<string, unknown>;
  if (fields?.type !== 'reply' || typeof fields.ok !== 'boolean') throw new ProtocolError('bad reply from the daemon');
  return raw as Reply;
}

/** The control socket being served. */
export interface ControlServer {
  /** Stops serving, once the requests under way are answered, and removes the socket (if it still is one). */
  close(): Promise<void>;
}

/**
 * Serves control requests, one per connection; every failure becomes an error
 * reply. A client that half-closes its connection before the reply (a CLI
 * that got SIGTERM) cancels its request: `handle` sees the signal abort, and
 * the client still reads the reply.
 */
export async function serveControl(
  stateDir: string,
  handle: (request: ControlRequest, cancelled: AbortSignal) => Promise<unknown>,
): Promise<ControlServer> {
  const path = controlSocketPath(stateDir);
  // The pid file keeps a second daemon out; one removed by hand must not let it take a live daemon's socket.
  if (await daemonListening(stateDir)) throw new SocketBusyError(`${path} is already served by another host-agent serve`);
  await removeSocket(path, 'control socket');
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const connection = new FramedConnection(socket, parseRequest, MAX_CONTROL_FRAME);
    const cancel = new AbortController();
    let asked = false;
    socket.once('data', () => (asked = true));
    // A client that hangs up before sending anything (a probe for a running daemon) is done with us.
    socket.once('end', () => (asked ? cancel.abort() : socket.destroy()));
    socket.once('close', () => cancel.abort());
    connection
      .receive(10_000)
      .then((request) => handle(request, cancel.signal))
      .then(
        (result) => connection.end({ type: 'reply', ok: true, result }),
        (error: unknown) => {
          const { code, message } = describeError(error);
          const cni = error instanceof CniError ? { cniCode: error.cniCode } : {};
          connection.end({ type: 'reply', ok: false, error: { code, message, ...cni } });
        },
      );
  });
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
  } finally {
    process.umask(umask);
  }
  return {
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await removeSocket(path, 'control socket');
    },
  };
}

function tryConnect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(undefined));
  });
}

/** Whether a daemon serves this state dir (a leftover socket file does not count). */
export async function daemonListening(stateDir: string): Promise<boolean> {
  const socket = await tryConnect(controlSocketPath(stateDir));
  socket?.destroy();
  return socket !== undefined;
}

/**
 * Sends one request to the daemon of `stateDir`. Resolves to `{ served: false }`
 * when no daemon listens, so the caller does the work itself.
 */
export async function callDaemon(
  stateDir: string,
  request: ControlRequest,
  timeoutMs: number,
  cancel?: AbortSignal,
): Promise<{ served: false } | { served: true; result: unknown }> {
  const socket = await tryConnect(controlSocketPath(stateDir));
  if (!socket) return { served: false };
  const connection = new FramedConnection(socket, parseReply, MAX_CONTROL_FRAME);
  // Cancelling half-closes: the daemon rolls the request back and still answers.
  const onCancel = () => socket.end();
  cancel?.addEventListener('abort', onCancel, { once: true });
  try {
    connection.send(request);
    const reply = await connection.receive(timeoutMs).catch((error: NodeJS.ErrnoException) => {
      // The daemon died mid-request (a stop waits for the requests under way, and every one gets a reply): its next
      // start rolls back an attach that was waiting for its guest.
      if (error instanceof PeerClosedError || error.code === 'ECONNRESET' || error.code === 'EPIPE')
        throw new AgentError(
          'daemonDied',
          `host-agent serve for ${stateDir} died mid-request, without answering; its next start finishes or rolls back what it was doing`,
        );
      throw new AgentError('internal', `host-agent serve for ${stateDir} did not answer (${error.message}); check its log`);
    });
    if (reply.ok) return { served: true, result: reply.result };
    const code = (Object.hasOwn(ExitCode, reply.error.code) ? reply.error.code : 'internal') as ExitCodeName;
    const { cniCode } = reply.error;
    if (Number.isInteger(cniCode) && (cniCode as number) > 0) throw new CniError(cniCode as number, reply.error.message, code);
    throw new AgentError(code, reply.error.message);
  } finally {
    cancel?.removeEventListener('abort', onCancel);
    connection.destroy();
  }
}
