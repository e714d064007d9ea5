import { randomBytes } from 'node:crypto';
import { type Configure, TOKEN_PREFIX, UplinkNotFoundError } from '@guestnet/protocol';
import { type AppliedOp, applySetup, rollBack } from '../exec/apply.js';
import { DryRunRunner, RealRunner } from '../exec/runner.js';
import { nftables } from '../firewall/nftables.js';
import { configureGuest, type GuestConfirmation } from '../guest/session.js';
import { allocate, guestMac, parsePool } from '../lease.js';
import { withStateLock } from '../lock.js';
import { guestReachableResolvers } from '../net/resolvers.js';
import { observeHost } from '../observe.js';
import type { OpContext } from '../ops.js';
import { defaultRouteInterface, planAttach } from '../planner.js';
import { BASE_TOOLS, guestNetns, requireRoot, requireTools } from '../preflight.js';
import type { HostSettings } from '../settings.js';
import type { AttachmentRecord } from '../state.js';

export interface AttachOptions {
  settings: HostSettings;
  dryRun: boolean;
  wait: boolean;
  print: (line: string) => void;
  onGuestEvent?: Parameters<typeof configureGuest>[3];
}

export interface AttachResult {
  attachment: Omit<AttachmentRecord, 'token'>;
  firewall: string;
  changed: boolean;
  steps: AppliedOp[];
  guest: GuestConfirmation | 'not-waited' | 'dry-run';
}

export async function attach(pid: number, options: AttachOptions): Promise<AttachResult> {
  requireRoot('attach');
  await requireTools([...BASE_TOOLS, nftables.tool]);
  return withStateLock(options.settings.stateDir, () => attachLocked(pid, options));
}

async function attachLocked(pid: number, options: AttachOptions): Promise<AttachResult> {
  const { settings, dryRun } = options;
  const firewall = nftables;

  const runner = dryRun ? new DryRunRunner(options.print) : new RealRunner();
  const [observed, netns] = await Promise.all([observeHost(runner, settings.stateDir, firewall), guestNetns(pid)]);
  const existing = observed.records.find((r) => r.pid === pid);
  const uplink = settings.uplink ?? defaultRouteInterface(observed.routes);
  if (uplink === undefined) throw new UplinkNotFoundError('no IPv4 default route to take the uplink from; give --uplink IF');
  if (!observed.links.has(uplink)) throw new UplinkNotFoundError(`uplink ${uplink} does not exist on the host`);

  const lease = allocate(observed, settings, pid);
  const desired: AttachmentRecord = {
    pid,
    netns,
    hostIf: lease.hostIf,
    guestIf: settings.guestIf,
    guestName: settings.guestName,
    hostAddress: settings.gateway,
    guestAddress: lease.guestAddress,
    prefixLength: parsePool(settings.pool).prefixLength,
    guestMac: guestMac(lease.guestAddress),
    mtu: settings.mtu,
    guestToGuest: settings.guestToGuest,
    uplink,
    dns: settings.dns ?? (await guestReachableResolvers()),
    token: existing?.token ?? `${TOKEN_PREFIX}${randomBytes(16).toString('hex')}`,
  };
  const ops = planAttach(observed, desired);
  const ctx: OpContext = { firewall, stateDir: settings.stateDir };
  const steps = await applySetup(ops, runner, ctx);
  const { token, ...attachment } = desired;
  const result = { attachment, firewall: firewall.name, changed: ops.length > 0, steps };
  if (dryRun) return { ...result, guest: 'dry-run' };
  if (!options.wait) return { ...result, guest: 'not-waited' };

  try {
    const guest = await configureGuest(settings.socket, configureMessage(desired), settings.timeout, options.onGuestEvent);
    return { ...result, guest };
  } catch (error) {
    await rollBack(ops, runner, ctx, error);
    throw error;
  }
}

function configureMessage(record: AttachmentRecord): Configure {
  return {
    type: 'configure',
    token: record.token,
    link: {
      name: record.guestIf,
      rename: record.guestName,
      mtu: record.mtu,
      address: record.guestAddress,
      prefixLength: record.prefixLength,
      gateway: record.hostAddress,
    },
    dns: record.dns,
  };
}
