// Every failure an operator can act on has its own exit code, so launchers and
// init scripts can branch on it without parsing text. The table is part of the
// public contract (README "Exit codes"): append, never renumber.
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  notRoot: 4,
  missingTool: 5,
  badPid: 6,
  nameTaken: 7,
  uplinkNotFound: 8,
  commandFailed: 9,
  guestTimeout: 10,
  guestProtocol: 11,
  guestApplyFailed: 12,
  socketBusy: 13,
  doctorFailed: 14,
  interrupted: 15,
  stateDir: 16,
  kernelFeature: 17,
  guestWithholds: 18,
  daemonDied: 19,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

export class AgentError extends Error {
  readonly code: ExitCodeName;
  get exitCode(): number {
    return ExitCode[this.code];
  }
  constructor(code: ExitCodeName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class UsageError extends AgentError {
  constructor(message: string) {
    super('usage', message);
  }
}

export class ConfigError extends AgentError {
  constructor(message: string) {
    super('config', message);
  }
}

export class NotRootError extends AgentError {
  constructor(what: string) {
    super('notRoot', `${what} needs root (CAP_NET_ADMIN); run it as root`);
  }
}

export class MissingToolError extends AgentError {
  constructor(tool: string, packageHint: string) {
    super('missingTool', `'${tool}' was not found in PATH; install ${packageHint}`);
  }
}

export class BadPidError extends AgentError {
  constructor(message: string) {
    super('badPid', message);
  }
}

export class NameTakenError extends AgentError {
  constructor(message: string) {
    super('nameTaken', message);
  }
}

export class UplinkNotFoundError extends AgentError {
  constructor(message: string) {
    super('uplinkNotFound', message);
  }
}

/** The kernel lacks what was asked for (IPv6 switched off, a link type not built in); nothing was changed. */
export class KernelFeatureError extends AgentError {
  constructor(message: string) {
    super('kernelFeature', message);
  }
}

/** The state dir or socket dir cannot be used: not a directory, writable by others, full, read-only. */
export class StateDirError extends AgentError {
  constructor(message: string) {
    super('stateDir', message);
  }
}

export class SocketBusyError extends AgentError {
  constructor(message: string) {
    super('socketBusy', message);
  }
}

export class GuestTimeoutError extends AgentError {
  constructor(message: string) {
    super('guestTimeout', message);
  }
}

/** The peer broke the protocol: bad frame, bad schema, wrong version. */
export class ProtocolError extends AgentError {
  constructor(message: string) {
    super('guestProtocol', message);
  }
}

/** The peer closed between frames: how a session normally ends, not an attack. */
export class PeerClosedError extends ProtocolError {}

export class GuestApplyError extends AgentError {
  constructor(message: string) {
    super('guestApplyFailed', message);
  }
}

/** A guest keeps what it was lent: a phys NIC that detach cannot find in its netns. The record is kept. */
export class GuestWithholdsError extends AgentError {
  constructor(message: string) {
    super('guestWithholds', message);
  }
}

/** An external command exited non-zero; carries what an operator needs to reproduce it. */
export class CommandFailedError extends AgentError {
  readonly argv: readonly string[];
  readonly stderr: string;
  readonly commandExitCode: number | undefined;
  constructor(argv: readonly string[], stderr: string, commandExitCode: number | undefined, cause?: unknown) {
    const detail = firstLine(stderr) || (commandExitCode === undefined ? 'did not run' : `exit ${commandExitCode}`);
    super('commandFailed', `${argv.join(' ')}: ${detail}`, { cause });
    this.argv = argv;
    this.stderr = stderr;
    this.commandExitCode = commandExitCode;
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** The shape both agents print with --json and write into logs: flat, never `{}`. */
export function describeError(error: unknown): { code: string; exitCode: number; message: string } {
  if (error instanceof AgentError) {
    return { code: error.code, exitCode: error.exitCode, message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', exitCode: ExitCode.internal, message };
}
