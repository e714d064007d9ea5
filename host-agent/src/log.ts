import type { Logger } from 'winston';
import { describeError } from '@guestnet/protocol';

// winston is large, so it is loaded on the first line that is
// actually written, never on a quiet run.
const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type Level = (typeof LEVELS)[number];

export interface LogOptions {
  level: Level;
  /** Where lines go: the daemon writes JSON to stdout (logcat, journald) or a rotated file; the CLI to stderr. */
  target: 'stdout' | 'stderr' | { file: string };
  /** One JSON object per line, or `level: message {meta}` for a person at a terminal. */
  format: 'json' | 'human';
}

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

async function createLogger(): Promise<Logger> {
  const { default: winston } = await import('winston');
  const { format } = winston;
  const shape =
    options.format === 'json'
      ? format.combine(format.timestamp(), format.json())
      : format.printf(
          ({ level, message, ...meta }) => `${level}: ${String(message)}${Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : ''}`,
        );
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

export function log(level: Level, message: string, meta: Record<string, unknown> = {}): void {
  if (LEVELS.indexOf(level) > LEVELS.indexOf(options.level)) return;
  logger ??= createLogger();
  void logger.then((l) => l.log(level, message, flatten(meta)));
}

/** Waits until every line so far is written; call before exiting. */
export async function flushLog(): Promise<void> {
  if (!logger) return;
  const l = await logger;
  await new Promise<void>((resolve) => {
    l.on('finish', () => resolve());
    l.end();
  });
}
