import { MissingToolError, newToken, UsageError } from '@guestnet/protocol';
import { applySetup, type ExecContext } from '../exec/apply.js';
import type { Runner } from '../exec/runner.js';
import { hasGuestLink, isBridged } from '../model/link-type.js';
import { parsePool } from '../model/pool.js';
import type { AttachmentRecord, GuestIdentity } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { lookIntoGuest, physState } from '../net/links.js';
import { guestReachableResolvers } from '../net/resolvers.js';
import { onPath } from '../net/tools.js';
import { observeHost } from '../observe.js';
import { allocate, guestMac } from '../plan/lease.js';
import { planAttach } from '../plan/planner.js';
import { type AttachExtras, type HostSideResult, rotatedOnReattach } from './host-side.js';

const NO_ADDRESS = '0.0.0.0';

/**
 * The host side of every type but the routed veth. These join a network
 * that exists (a bridge, a parent's LAN, a NIC's), so their addresses come
 * from that network's pool: host routes into it are expected, not clashes.
 * Rare and never hot, so it takes a deep look.
 */
export async function attachTypedHostSide(
  guest: GuestIdentity,
  settings: HostSettings,
  records: readonly AttachmentRecord[],
  runner: Runner,
  ctx: ExecContext,
  extras: AttachExtras = {},
): Promise<HostSideResult> {
  const existing = records.find((r) => r.id === guest.id);
  const observed = await observeHost(runner, settings.stateDir, ctx.firewall, records);
  const typed = { type: settings.type, link: settings.link };
  const addressed = hasGuestLink(typed) && !settings.dhcp;
  const lease = addressed ? allocate({ ...observed, routes: [] }, settings, guest.id) : undefined;
  const seen = settings.type === 'phys' && settings.link !== undefined && !existing ? await physState(runner, settings.link) : undefined;
  const phys = settings.type === 'phys' ? (existing?.phys ?? seen?.before) : undefined;
  if (settings.type === 'phys' && !phys) throw new UsageError(`--link ${settings.link} does not exist on the host`);
  const portSecurity = isBridged(typed) && settings.portSecurity;
  if (portSecurity && !existing && !(await onPath('nft')))
    throw new MissingToolError(
      'nft',
      "the 'nftables' package: it locks a bridged guest's port to the guest (--port-security off attaches without)",
    );
  const guestAddress = existing?.guestAddress ?? lease?.guestAddress ?? NO_ADDRESS;
  const desired: AttachmentRecord = {
    ...guest,
    type: settings.type,
    ...(settings.link === undefined ? {} : { link: settings.link }),
    ...(settings.type === 'vlan' && settings.vlanId !== undefined ? { vlanId: settings.vlanId } : {}),
    ...(settings.type === 'macvlan' ? { macvlanMode: settings.macvlanMode } : {}),
    ...(settings.type === 'ipvlan' ? { ipvlanMode: settings.ipvlanMode } : {}),
    ...(phys ? { phys } : {}),
    ...(portSecurity ? { portSecurity: true as const } : {}),
    ...(settings.dhcp ? { dhcp: true as const } : {}),
    hostIf: isBridged(typed) ? (existing?.hostIf ?? lease?.hostIf ?? settings.hostIfPrefix) : (settings.link ?? 'lo'),
    ...(isBridged(typed) && settings.hostIf === undefined ? { hostIfPrefix: settings.hostIfPrefix } : {}),
    guestIf: settings.guestIf,
    guestName: settings.guestName,
    hostAddress: addressed ? settings.gateway : NO_ADDRESS,
    guestAddress,
    prefixLength: addressed ? parsePool(settings.pool).prefixLength : 0,
    guestMac: extras.guestMac ?? guestMac(guestAddress),
    mtu: settings.mtu ?? phys?.mtu ?? (settings.link === undefined ? undefined : observed.mtus.get(settings.link)) ?? 1500,
    guestToGuest: false,
    uplink: settings.link ?? 'lo',
    // A DHCP guest takes the lease's resolvers unless --dns pins some.
    dns: addressed ? (settings.dns ?? existing?.dns ?? (await guestReachableResolvers())) : (settings.dns ?? []),
    token: existing?.token ?? newToken(),
    forwards: [],
    firewall: ctx.firewall.name,
    tagged: true,
  };
  const guestSeen = existing && (await lookIntoGuest(runner, existing));
  const ops = planAttach(observed, desired, { force: settings.force, guest: guestSeen, notNic: seen?.notNic });
  const steps = await applySetup(ops, runner, ctx);
  return {
    ...(await rotatedOnReattach(existing, desired, runner, ctx)),
    created: existing === undefined,
    changed: ops.length > 0,
    steps,
  };
}
