import { type AppliedState, type GuestConfig, linkIdOf, redact, secretsOf } from '@guestnet/protocol';
import { FrameworkDhcp } from './android/framework-dhcp.js';
import { applyGuest } from './apply.js';
import { DhcpClient, dhcpClientCommand, type Lease } from './dhcp.js';
import { onlyEchoes } from './event-lines.js';
import type { NetEvents } from './events.js';
import type { IpTarget } from './ip.js';
import { type GuestObserved, type IpState, observeGuest } from './observe.js';
import type { GuestOp } from './ops.js';
import { OurLink } from './our-link.js';
import { type DnsTarget, planGuest, verifiedState } from './planner.js';
import type { StatusFile } from './status-file.js';

export interface ApplyReport {
  state: AppliedState;
  changes: number;
}

export type OnEvent = (message: string, meta?: Record<string, unknown>) => void;

/** Where the agent looks at its guest and changes it. */
export interface GuestKernel {
  /** What `ip` shows (with `ipv6`, IPv6 too), and the DNS file at `dnsFilePath`: observeGuest. */
  observe(dnsFilePath: string | undefined, ipv6?: boolean): Promise<GuestObserved>;
  /** Applies `ops`, undoing them all on a failure, and resolves to the state they left: applyGuest. */
  apply(ops: GuestOp[], ipv6?: boolean): Promise<IpState>;
}

/** The kernel of `target`'s netns, through `ip`. */
export const kernelOf = (target: IpTarget = {}): GuestKernel => ({
  observe: (dnsFilePath, ipv6 = false) => observeGuest(dnsFilePath, target, ipv6),
  apply: (ops, ipv6 = false) => applyGuest(ops, target, ipv6),
});

/** What keep() hears of the kernel's events. */
export type KernelEvents = Pick<NetEvents, 'next' | 'seq' | 'linesAfter'>;

// How long a DHCP server has to answer the first time.
const DHCP_WITHIN_MS = 20_000;

/** The host's configure of a DHCP link, completed by a lease: from here on a static configuration. */
function withLease(configure: GuestConfig, lease: Lease): GuestConfig {
  const { dhcp: _, ...link } = configure.link;
  return {
    ...configure,
    link: { ...link, address: lease.address, prefixLength: lease.prefixLength, gateway: lease.gateway },
    // --dns on the host still pins a list; otherwise the lease's.
    dns: configure.dns.length > 0 ? configure.dns : lease.dns,
  };
}

// Drift the kernel does not announce (a rewritten DNS file) is caught this often.
const RECHECK_MS = 10_000;

/**
 * Holds the configuration the host gave us and keeps it in force: applies it
 * when the host sends it, and again whenever a kernel event shows someone
 * changed it, host connected or not. One plan-and-apply runs at a time, so a
 * configure and a drift repair never interleave their ip -batch runs.
 */
export class Keeper {
  private configure: GuestConfig | undefined;
  /** The host's configure of a DHCP link, which each lease completes. */
  private dhcpConfigure: GuestConfig | undefined;
  private readonly dhcp: DhcpClient | FrameworkDhcp | undefined;
  private applying: Promise<unknown> = Promise.resolve();
  private events: KernelEvents | undefined;
  /**
   * The last look (an apply's read-back, or a repair's look) and the last
   * event it covers. Events after it that only echo what it saw (an apply's
   * own changes, which arrive after its read-back) need no second look.
   */
  private covered: { seq: number; state: IpState } | undefined;
  private readonly ourLink = new OurLink();

  /** `dhcpScriptDir`: where a DHCP client's event script may be written; none: no DHCP. `kernel`: where its looks and changes run. */
  constructor(
    private readonly dnsTarget: DnsTarget,
    private readonly status: Pick<StatusFile, 'update'>,
    private readonly onEvent: OnEvent,
    dhcpScriptDir?: string,
    private readonly kernel: GuestKernel = kernelOf(),
  ) {
    if (dnsTarget.kind === 'ipconfig') this.dhcp = new FrameworkDhcp();
    else
      this.dhcp =
        dhcpScriptDir === undefined || !dhcpClientCommand() ? undefined : new DhcpClient(dhcpScriptDir, (lease) => this.onLease(lease));
  }

  /** Whether this guest can take a DHCP lease: it announces so to the host. */
  get takesDhcp(): boolean {
    return this.dhcp !== undefined;
  }

  /** Stops a DHCP client, releasing its lease: the agent is stopping. */
  stop(): void {
    this.dhcp?.stop();
  }

  /** The link comes up first; the lease, once there, is applied and kept as a static configuration would be. */
  private async applyDhcp(asked: GuestConfig, dhcp: DhcpClient | FrameworkDhcp): Promise<ApplyReport> {
    let configure = asked;
    const changes = await this.oneAtATime(async () => {
      const observed = await this.kernel.observe(this.dnsTarget.path);
      configure = this.onLinkOf(observed, configure);
      const ops = planGuest(observed, configure, this.dnsTarget);
      this.ourLink.applied(ops.length > 0 ? await this.kernel.apply(ops) : observed, configure.token);
      return ops.length;
    });
    const lease = await dhcp.leaseFor(configure.link.rename, DHCP_WITHIN_MS);
    this.dhcpConfigure = configure;
    if (dhcp instanceof DhcpClient) return this.apply(withLease(configure, lease));
    // Android's framework keeps its own lease: only the link and its DHCP entry are ours to keep.
    this.configure = configure;
    this.status.update({ ...this.linkShown(configure.token), lastApply: { ok: true, at: now(), changes } });
    return { state: { name: configure.link.rename, mtu: configure.link.mtu, ...lease }, changes };
  }

  /** A renewed or changed lease is applied as the host's configure is; a lost one stops being kept. */
  private onLease(lease: Lease | undefined): void {
    const configure = this.dhcpConfigure;
    if (!configure) return;
    if (!lease) {
      this.configure = undefined;
      this.onEvent('lost the DHCP lease');
      return;
    }
    const next = withLease(configure, lease);
    if (JSON.stringify(next) === JSON.stringify(this.configure)) return;
    this.apply(next).then(
      () => this.onEvent('applied a new DHCP lease', { address: lease.address }),
      () => {},
    );
  }

  /**
   * `seen`, if given, is what the agent observed when it found its link a
   * moment ago; the plan starts from it, saving a look. Should the guest have
   * changed since, that plan fails (and is undone), and a fresh look decides.
   */
  async apply(asked: GuestConfig, seen?: GuestObserved): Promise<ApplyReport> {
    // A session names our link by the token it began with, which the host may have rotated since.
    let configure = { ...asked, token: this.ourLink.follow(asked.token) };
    if (configure.link.dhcp) {
      if (!this.dhcp) throw new Error('DHCP needs udhcpc (busybox) in the guest, and there is none');
      return this.applyDhcp(configure, this.dhcp);
    }
    // IPv6 is read where it is wanted, and where the configuration this one replaces had it: the host may have taken it back.
    const ipv6 = configure.link.ipv6 !== undefined || this.configure?.link.ipv6 !== undefined;
    const applyFrom = async (observed: GuestObserved) => {
      configure = this.onLinkOf(observed, configure);
      const ops = planGuest(observed, configure, this.dnsTarget);
      const state = await this.kernel.apply(ops, ipv6);
      const report = { state: verifiedState(state, configure), changes: ops.length };
      this.ourLink.applied(state, configure.token);
      return { report, state };
    };
    // A look that did not read IPv6 cannot plan it.
    const usable = seen && (!ipv6 || seen.links.some((link) => link.addresses6 !== undefined)) ? seen : undefined;
    try {
      const report = await this.oneAtATime(async () => {
        let applied = usable ? await applyFrom(usable).catch(() => undefined) : undefined;
        applied ??= await applyFrom(await this.kernel.observe(this.dnsTarget.path, ipv6));
        // Kept from within the step: a repair queued behind it must keep this, not what it replaced.
        this.configure = configure;
        this.lookedAt(applied.state);
        return applied.report;
      });
      this.status.update({ ...this.linkShown(configure.token), lastApply: { ok: true, at: now(), changes: report.changes } });
      return report;
    } catch (error) {
      const message = redact(error instanceof Error ? error.message : String(error), [asked.token, configure.token].flatMap(secretsOf));
      this.status.update({ lastApply: { ok: false, at: now(), error: message.slice(0, 200) } });
      throw error;
    }
  }

  /** The host detached the link of `token` (or of the token it became): its link is going, there is nothing left to keep. */
  release(token: string): void {
    const current = this.ourLink.follow(token);
    if (this.configure?.token !== current) return;
    this.configure = undefined;
    if (this.dhcpConfigure?.token === current) {
      this.dhcpConfigure = undefined;
      this.dhcp?.stop();
    }
    this.status.update({ link: undefined, linkIndex: undefined });
    this.onEvent('released by the host', { link: linkIdOf(current) });
  }

  /** The token that `token` became, if the host rotated it: for showing errors without either. */
  currentToken(token: string): string {
    return this.ourLink.follow(token);
  }

  /** How the status file names the link configured under `token`: never by the token itself. */
  private linkShown(token: string): { link: string; linkIndex: number | undefined } {
    return { link: linkIdOf(token), linkIndex: this.ourLink.index };
  }

  /**
   * `configure` for our link as `observed` shows it: when the host has
   * rotated its token, the new one, which what is kept takes up too.
   */
  private onLinkOf(observed: Pick<GuestObserved, 'links'>, configure: GuestConfig): GuestConfig {
    const token = this.ourLink.newTokenIn(observed, configure.token);
    if (token === undefined) return configure;
    const from = configure.token;
    const next = { ...configure, token };
    this.ourLink.rotated(from, token);
    // The configuration kept stays the same object, so a failed repair still knows it for its own.
    if (this.configure === configure) this.configure = next;
    else if (this.configure?.token === from) this.configure = { ...this.configure, token };
    if (this.dhcpConfigure?.token === from) this.dhcpConfigure = { ...this.dhcpConfigure, token };
    this.status.update(this.linkShown(token));
    this.onEvent('the host gave our link a new token', { link: linkIdOf(token) });
    return next;
  }

  /** Repairs drift on every kernel event, and every RECHECK_MS, until `stopped()`. */
  async keep(events: KernelEvents, stopped: () => boolean): Promise<void> {
    this.events = events;
    while (!stopped()) {
      const woken = await events.next(RECHECK_MS);
      const seq = events.seq;
      if (stopped() || !this.configure) continue;
      // Read when the step runs, not when the event came: the event may be a
      // new configure's own change, and the configure it replaced must not
      // be put back over it.
      let configure: GuestConfig | undefined;
      try {
        const repaired = await this.oneAtATime(async () => {
          configure = this.configure;
          if (!configure || (woken && this.seenUpTo(seq))) return [];
          const ipv6 = configure.link.ipv6 !== undefined;
          const observed = await this.kernel.observe(this.dnsTarget.path, ipv6);
          configure = this.onLinkOf(observed, configure);
          const ops = planGuest(observed, configure, this.dnsTarget);
          this.lookedAt(ops.length > 0 ? await this.kernel.apply(ops, ipv6) : observed);
          return ops.map((op) => op.kind);
        });
        if (repaired.length > 0) this.onEvent('repaired drift', { changes: repaired });
      } catch {
        if (!configure) continue;
        // Our link is gone (detached): nothing to keep until the host configures us again, and no lease to renew.
        if (this.configure === configure) this.configure = undefined;
        if (this.dhcpConfigure?.token === configure.token) {
          this.dhcpConfigure = undefined;
          this.dhcp?.stop();
        }
      }
    }
  }

  /** `state` was just read: it covers every event so far. */
  private lookedAt(state: IpState): void {
    this.covered = { seq: this.events?.seq ?? -1, state };
  }

  /**
   * Whether the last look already shows what the events up to `seq` did:
   * they came before it, or only echo what it saw. Then a new look is not needed.
   */
  private seenUpTo(seq: number): boolean {
    const covered = this.covered;
    if (!covered || !this.events) return false;
    if (seq <= covered.seq) return true;
    const now = this.events.seq;
    const lines = this.events.linesAfter(covered.seq);
    if (!lines || !onlyEchoes(lines, covered.state)) return false;
    covered.seq = now;
    return true;
  }

  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = this.applying.then(work, work);
    this.applying = run.catch(() => {});
    return run;
  }
}

const now = () => new Date().toISOString();
