import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Logger } from 'winston';
import { describeError, UsageError } from '@guestnet/protocol';

// winston is large, so it is loaded on the first line that is
// actually written, never on a quiet run.
const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type Level = (typeof LEVELS)[number];

export interface LogOptions {
  level: Level;
  /** Where lines go: the daemon writes JSON to stdout (logcat, journald) or a rotated file; the CLI to stderr. */
  target: 'stdout' | 'stderr' | { file: string };
  /** One JSON object per line, or a line for a person (see log-line.ts). */
  format: LogFormat;
  /** Human lines start with the time (the CLI's stderr goes without). */
  timestamps?: boolean;
  /** The target is systemd's journal: human lines carry a priority, not the time. */
  journal?: boolean;
}

export type LogFormat = 'json' | 'human';

const ROTATE_AT_BYTES = 10 * 1024 * 1024;
const ROTATED_FILES = 5;

let options: LogOptions = { level: 'warn', target: 'stderr', format: 'json' };
let logger: Promise<Logger> | undefined;

export function configureLog(next: LogOptions): void {
  options = next;
}

export function isLevel(value: string): value is Level {
  return (LEVELS as readonly string[]).includes(value);
}

/**
 * Whether fd `fd` is systemd's journal stream: systemd sets JOURNAL_STREAM to
 * the device and inode of the stream it connected (see systemd.exec(5)); a
 * child whose stdout was redirected since inherits the variable, not the stream.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const [device, inode] = (env.JOURNAL_STREAM ?? '').split(':');
  if (!device || !inode) return false;
  try {
    const stat = fstatSync(fd, { bigint: true });
    return String(stat.dev) === device && String(stat.ino) === inode;
  } catch {
    return false;
  }
}

/** Only a character device is asked whether it is a terminal: asking loads `tty`'s own dependencies. */
const isTerminal = (fd: number) => {
  try {
    return fstatSync(fd).isCharacterDevice() && isatty(fd);
  } catch {
    return false;
  }
};

/**
 * The daemon's log format: --log-format when given; else human lines for a
 * person (a terminal, or the journal that `journalctl` shows), and JSON lines
 * for a file and for a pipe (logcat, a collector).
 */
export function logFormatOf(
  flag: unknown,
  target: LogOptions['target'],
  env: NodeJS.ProcessEnv = process.env,
): Pick<LogOptions, 'format' | 'timestamps' | 'journal'> {
  if (flag !== undefined && flag !== 'human' && flag !== 'json')
    throw new UsageError(`--log-format: '${String(flag)}' is not human or json`);
  const fd = target === 'stdout' ? 1 : target === 'stderr' ? 2 : undefined;
  const journal = fd !== undefined && isJournalStream(fd, env);
  const format = (flag as LogFormat | undefined) ?? (journal || (fd !== undefined && isTerminal(fd)) ? 'human' : 'json');
  return { format, timestamps: !journal, journal };
}

async function createLogger(): Promise<Logger> {
  const [{ default: winston }, { humanLine }] = await Promise.all([import('winston'), import('./log-line.js')]);
  const { format } = winston;
  const human = { timestamps: options.timestamps ?? false, journal: options.journal ?? false };
  const shape =
    options.format === 'json'
      ? format.combine(format.timestamp(), format.json())
      : format.printf((info) => humanLine(info as Record<string, unknown>, human));
  const { target } = options;
  const transport =
    typeof target === 'object'
      ? new winston.transports.File({ filename: target.file, maxsize: ROTATE_AT_BYTES, maxFiles: ROTATED_FILES, tailable: true })
      : new winston.transports.Console({ stderrLevels: target === 'stderr' ? [...LEVELS] : [] });
  return winston.createLogger({ level: options.level, format: shape, defaultMeta: { agent: 'host' }, transports: [transport] });
}

/** winston prints a nested Error as {}: errors are flattened to code, exit code, message and stack. */
function flatten(meta: Record<string, unknown>): Record<string, unknown> {
  const error = meta.error;
  if (!(error instanceof Error)) return meta;
  const stderr = (error as { stderr?: unknown }).stderr;
  return { ...meta, error: { ...describeError(error), stack: error.stack, ...(typeof stderr === 'string' ? { stderr } : {}) } };
}

/**
 * Set when the log is flushed for exit. A line after that (an event heard
 * while the process stops) is dropped: written to the ended stream, it would
 * fail the exit with winston's "write after end".
 */
let closed = false;

export function log(level: Level, message: string, meta: Record<string, unknown> = {}): void {
  if (closed || LEVELS.indexOf(level) > LEVELS.indexOf(options.level)) return;
  logger ??= createLogger();
  void logger.then((l) => l.log(level, message, flatten(meta)));
}

/** Waits until every line so far is written; call before exiting. */
export async function flushLog(): Promise<void> {
  closed = true;
  if (!logger) return;
  const l = await logger;
  await new Promise<void>((resolve) => {
    l.on('finish', () => resolve());
    l.end();
  });
}
