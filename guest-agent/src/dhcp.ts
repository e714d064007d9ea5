import { accessSync, constants, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { startCommand, type StartedCommand } from '@guestnet/runtime';

// DHCP through the guest's own busybox udhcpc: minimal Linux guests carry
// busybox far more often than anything else, and a client of our own would
// need raw sockets, which node does not have. udhcpc runs for as long as the
// lease is kept, renews it by itself (whatever the host's daemon does), and
// releases it when stopped (-R). Its event script only reports each event on
// udhcpc's stdout; the agent applies the lease itself, as it applies a
// configure, and keeps it the same way.

export interface Lease {
  address: string;
  prefixLength: number;
  gateway: string;
  dns: string[];
}

const SCRIPT = `#!/bin/sh
# written by guestnet guest-agent: udhcpc reports each event here; the agent applies the lease.
echo "guestnet-lease $1 \${ip:-} \${mask:-} \${router%% *} \${dns:-}"
`;

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** One reported event as a lease (bound, renew), undefined for a lost one (deconfig, leasefail, nak), or null for other lines. */
export function parseLeaseLine(line: string): Lease | undefined | null {
  const [tag, event, address, mask, gateway, ...dns] = line.trim().split(/\s+/);
  if (tag !== 'guestnet-lease') return null;
  if (event !== 'bound' && event !== 'renew') return undefined;
  const prefixLength = Number(mask);
  if (
    !address ||
    !IPV4.test(address) ||
    !Number.isInteger(prefixLength) ||
    prefixLength < 1 ||
    prefixLength > 30 ||
    !gateway ||
    !IPV4.test(gateway)
  )
    return undefined;
  return { address, prefixLength, gateway, dns: dns.filter((d) => IPV4.test(d)).slice(0, 4) };
}

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** udhcpc, or busybox's: undefined where the guest has neither. */
export function dhcpClientCommand(): string[] | undefined {
  if (onPath('udhcpc')) return ['udhcpc'];
  return onPath('busybox') ? ['busybox', 'udhcpc'] : undefined;
}

export class DhcpClient {
  private child: StartedCommand | undefined;
  private link: string | undefined;
  private lease: Lease | undefined;
  private waiters: Array<(lease: Lease) => void> = [];

  /** `scriptDir`: where the event script is written; `onChange` hears every later lease or loss. */
  constructor(
    private readonly scriptDir: string,
    private readonly onChange: (lease: Lease | undefined) => void,
  ) {}

  /** Resolves at the link's lease, starting the client if it does not run for this link yet. */
  async leaseFor(link: string, timeoutMs: number): Promise<Lease> {
    if (this.link !== link) await this.start(link);
    if (this.lease) return this.lease;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== got);
        reject(new Error(`no DHCP lease on ${link} within ${timeoutMs} ms`));
      }, timeoutMs);
      const got = (lease: Lease) => {
        clearTimeout(timer);
        resolve(lease);
      };
      this.waiters.push(got);
    });
  }

  /** Stops the client, which releases the lease. */
  stop(): void {
    this.child?.kill();
    this.child = undefined;
    this.link = undefined;
    this.lease = undefined;
  }

  private async start(link: string): Promise<void> {
    this.stop();
    const command = dhcpClientCommand();
    if (!command) throw new Error('DHCP needs udhcpc (busybox) in the guest, and there is none');
    const script = join(this.scriptDir, 'guestnet-udhcpc.sh');
    writeFileSync(script, SCRIPT, { mode: 0o755 });
    this.link = link;
    const child = await startCommand([...command, '-f', '-R', '-i', link, '-s', script, '-t', '20', '-T', '1', '-A', '2']);
    this.child = child;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = parseLeaseLine(line);
      if (parsed === null || this.child !== child) return;
      const had = this.lease;
      this.lease = parsed;
      if (parsed) for (const waiter of this.waiters.splice(0)) waiter(parsed);
      if (had !== undefined || parsed === undefined) this.onChange(parsed);
    });
  }
}
