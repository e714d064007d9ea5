// The guest agent is a long-running service on a device: one JSON object per
// line on stderr, for logcat or journald, in the shape the host agent's
// winston writes. It writes a few lines an hour, so it needs no logger
// library: winston alone cost the agent more memory than its own code.

const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type Level = (typeof LEVELS)[number];

export interface GuestLog {
  log(level: Level, message: string, meta?: Record<string, unknown>): void;
}

/** An Error becomes its name and message: JSON.stringify would print it as {}. */
const plain = (_key: string, value: unknown) => (value instanceof Error ? { name: value.name, message: value.message } : value);

export function createLog(level: Level, write: (line: string) => void = (line) => process.stderr.write(line)): GuestLog {
  const limit = LEVELS.indexOf(level);
  return {
    log(at, message, meta = {}) {
      if (LEVELS.indexOf(at) > limit) return;
      write(`${JSON.stringify({ ...meta, agent: 'guest', level: at, message, timestamp: new Date().toISOString() }, plain)}\n`);
    },
  };
}
