/** At most one line per second for a flood of the same event, counting what it left out. */
export function rateLimited(write: (reason: string, suppressed: number) => void): (reason: string) => void {
  let last = 0;
  let suppressed = 0;
  return (reason) => {
    const now = Date.now();
    if (now - last < 1000) {
      suppressed++;
      return;
    }
    write(reason, suppressed);
    last = now;
    suppressed = 0;
  };
}

/** A warning line, at most one a second (see rateLimited), with the reason and how many were left out. */
export function limitedWarning(
  log: (level: 'warn', message: string, meta: Record<string, unknown>) => void,
  message: string,
): (reason: string) => void {
  return rateLimited((reason, suppressed) => log('warn', message, { reason, ...(suppressed ? { suppressed } : {}) }));
}
