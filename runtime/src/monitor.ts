import { createInterface } from 'node:readline';
import { startCommand, type StartedCommand } from './command.js';

const RESTART_DELAY_MS = 1000;

/**
 * `ip -o monitor OBJECTS`: one line per netlink event of this netns, from one
 * long-lived process; no polling. A monitor that dies is restarted, and
 * `onRestart` hears it: events may have been lost meanwhile.
 */
export class IpMonitor {
  private stopped = false;
  private current: StartedCommand | undefined;

  /** `options` such as -4 go before `monitor`, `objects` such as link route after it. */
  constructor(
    private readonly options: readonly string[],
    private readonly objects: readonly string[],
    private readonly onLine: (line: string) => void,
    private readonly onRestart: () => void = () => {},
  ) {}

  start(): void {
    void this.run();
  }

  /** Whether a monitor process is up now: events from here on are heard. */
  get running(): boolean {
    return this.current !== undefined;
  }

  stop(): void {
    this.stopped = true;
    this.current?.kill();
  }

  private async run(): Promise<void> {
    const child = await startCommand(['ip', ...this.options, '-o', 'monitor', ...this.objects]);
    if (this.stopped) return child.kill();
    this.current = child;
    createInterface({ input: child.stdout }).on('line', this.onLine);
    await child.exited;
    this.current = undefined;
    if (this.stopped) return;
    this.onRestart();
    setTimeout(() => void this.run(), RESTART_DELAY_MS).unref();
  }
}
