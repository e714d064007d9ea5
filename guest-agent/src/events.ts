import { createInterface } from 'node:readline';

/**
 * Kernel link/address/route/rule events in this netns, from one long-lived
 * `ip monitor`. `next()` resolves at the next event, so waiting costs nothing
 * and a link that arrives is seen at once rather than at the next poll.
 */
export class NetEvents {
  private waiters: Array<() => void> = [];
  private child: { kill: () => boolean } | undefined;
  /** An event came while nobody waited: the next wait must not miss it. */
  private missed = false;

  async start(): Promise<void> {
    const { execa } = await import('execa');
    const child = execa('ip', ['-o', 'monitor', 'link', 'address', 'route', 'rule'], { buffer: false, reject: false, env: { LC_ALL: 'C' } });
    this.child = child;
    createInterface({ input: child.stdout }).on('line', () => this.wake());
    // Without a monitor, callers fall back to their timers.
    void child.then(() => (this.child = undefined));
  }

  /**
   * Resolves true at the next event (at once if one came since the last
   * wait), or false after `timeoutMs`.
   */
  next(timeoutMs: number): Promise<boolean> {
    if (this.missed) {
      this.missed = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  stop(): void {
    this.child?.kill();
    this.wake();
  }

  private wake(): void {
    if (this.waiters.length === 0) this.missed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
