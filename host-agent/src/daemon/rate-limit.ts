/**
 * How often a flood of the same event may write a line: `gapMs` apart, and,
 * with `maxGapMs` above it, twice as far apart after each line that had to
 * leave some out, up to `maxGapMs`; after a quiet gap it starts over.
 * A flood's lines then grow with the log of its length, not with its length.
 */
export interface LinePace {
  gapMs: number;
  maxGapMs?: number;
}

/** At most one line per second (or as `pace` says) for a flood of the same event, counting what it left out. */
export function rateLimited(
  write: (reason: string, suppressed: number) => void,
  pace: LinePace = { gapMs: 1000 },
): (reason: string) => void {
  let last = Number.NEGATIVE_INFINITY;
  let gap = pace.gapMs;
  let suppressed = 0;
  return (reason) => {
    const now = Date.now();
    if (now - last < gap) {
      suppressed++;
      return;
    }
    // Quiet for a whole gap or more since the last line: a new flood, or none.
    const flooding = suppressed > 0 && now - last < 2 * gap;
    gap = flooding ? Math.min(gap * 2, pace.maxGapMs ?? pace.gapMs) : pace.gapMs;
    write(reason, suppressed);
    last = now;
    suppressed = 0;
  };
}

/** A warning line, at most one a second (see rateLimited), with the reason and how many were left out. */
export function limitedWarning(
  log: (level: 'warn', message: string, meta: Record<string, unknown>) => void,
  message: string,
  pace?: LinePace,
): (reason: string) => void {
  return rateLimited((reason, suppressed) => log('warn', message, { reason, ...(suppressed ? { suppressed } : {}) }), pace);
}

// A guest decides how long its flood lasts: its lines come further apart the longer it goes on.
const FLOOD_PACE: LinePace = { gapMs: 1000, maxGapMs: 60_000 };

/**
 * The guest socket's warnings, each with a limiter of its own: a flood's
 * rejections, its drops over the total, and its connections beyond its netns'
 * rate must not hide one another, nor which netns is cut down.
 */
export function guestSocketWarnings(log: (level: 'warn', message: string, meta: Record<string, unknown>) => void) {
  return {
    onRejected: limitedWarning(log, 'guest connection rejected', FLOOD_PACE),
    onDropped: limitedWarning(log, 'guest connections dropped', FLOOD_PACE),
    onCrowded: limitedWarning(log, 'guest connections dropped', FLOOD_PACE),
    onOverRate: limitedWarning(log, 'guest connections beyond their netns rate', FLOOD_PACE),
  };
}
