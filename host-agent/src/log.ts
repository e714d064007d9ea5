import type { Logger } from 'winston';

// winston costs ~30 ms to load, so it is loaded on the first line that is
// actually written, never on a quiet run. Lines are JSON objects on stderr,
// leaving stdout to the command's own output.
const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type Level = (typeof LEVELS)[number];

let threshold: Level = 'warn';
let logger: Promise<Logger> | undefined;

export function setLogLevel(level: Level): void {
  threshold = level;
}

export function isLevel(value: string): value is Level {
  return (LEVELS as readonly string[]).includes(value);
}

async function createLogger(): Promise<Logger> {
  const { default: winston } = await import('winston');
  return winston.createLogger({
    level: threshold,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { agent: 'host' },
    transports: [new winston.transports.Console({ stderrLevels: [...LEVELS] })],
  });
}

export function log(level: Level, message: string, meta: Record<string, unknown> = {}): void {
  if (LEVELS.indexOf(level) > LEVELS.indexOf(threshold)) return;
  logger ??= createLogger();
  void logger.then((l) => l.log(level, message, meta));
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
