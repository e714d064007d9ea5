import { IpMonitor } from '@guestnet/runtime';

/**
 * Kernel link/address/route/rule events in this netns, from one long-lived
 * `ip monitor`. `next()` resolves at the next event, so waiting costs nothing
 * and a link that arrives is seen at once rather than at the next poll. A
 * monitor that dies is restarted, and its restart counts as an event: what
 * happened meanwhile is looked at.
 */
export class NetEvents {
  private waiters: Array<() => void> = [];
  private readonly monitor = new IpMonitor([], ['link', 'address', 'route', 'rule'], () => this.wake(), () => this.wake());
  /** An event came while nobody waited: the next wait must not miss it. */
  private missed = false;
  private count = 0;

  start(): void {
    this.monitor.start();
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
    this.monitor.stop();
    this.wake();
  }

  /** How many events (and monitor restarts) came so far: tells whether one came after a given moment. */
  get seq(): number {
    return this.count;
  }

  private wake(): void {
    this.count++;
    if (this.waiters.length === 0) this.missed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
