// The human form of a log line, for a terminal and for the journal, where
// people read the daemon with `journalctl -u`. The JSON form carries the same
// fields, for files and logcat parsers.

/** syslog priorities: journald takes a `<N>` at the start of a line as the line's priority. */
const PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export interface HumanOptions {
  /** The time first: wanted everywhere but in the journal, which stamps each line itself. */
  timestamps: boolean;
  /** Written to systemd's journal: a priority prefix instead of the time. */
  journal: boolean;
}

/** A value as it reads in `key=value`: bare when it is one plain word, else quoted as JSON. */
function shown(value: unknown): string {
  if (typeof value === 'string' && /^[^\s"=]+$/.test(value)) return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * `[time] level message [guest] [in N ms][: key=value ...]`, for example
 * `2025-05-01T09:30:00.000Z info  attached pid 4242 in 412 ms: hostIf=vm_wlan1 address=172.17.3.4/16`.
 * `guest` and `ms` are the subject and the duration of an event; a flattened
 * error shows its message (the stack only in the JSON form). The time is the
 * moment the line is written, as in the JSON form.
 */
export function humanLine(info: Record<string, unknown>, options: HumanOptions, now: () => Date = () => new Date()): string {
  const { level, message, guest, ms, error, timestamp: _timestamp, ...meta } = info;
  // Which agent logs is plain to a person reading this daemon's own log.
  if (meta.agent === 'host') delete meta.agent;
  const levelName = String(level);
  const head = [
    ...(options.journal ? [`<${PRIORITY[levelName] ?? 6}>`] : []),
    ...(options.timestamps && !options.journal ? [now().toISOString()] : []),
    levelName.padEnd(5),
  ].join(options.journal ? '' : ' ');
  let line = `${head} ${String(message)}`;
  if (typeof guest === 'string') line += ` ${guest}`;
  if (typeof ms === 'number') line += ` in ${ms} ms`;
  const pairs = Object.entries(meta).map(([key, value]) => `${key}=${shown(value)}`);
  if (error !== undefined) {
    const described = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : { message: error };
    pairs.push(`error=${shown(described.message)}`, ...(described.code !== undefined ? [`code=${shown(described.code)}`] : []));
  }
  return pairs.length > 0 ? `${line}: ${pairs.join(' ')}` : line;
}
