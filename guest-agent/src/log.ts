import winston from 'winston';

/** The guest agent is a long-running service: one JSON object per line on stderr, for logcat or journald. */
export function createLog(level: string): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { agent: 'guest' },
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
