import { newOneTimeToken, newToken, ONE_TIME_NAME, oneTimeNameOf, UplinkNotFoundError } from '@guestnet/protocol';
import type { Runner } from '../exec/runner.js';
import { dhcpIpv6, modeFields, settingsForMode } from '../model/guest-config-mode.js';
import { pathMtu, type Route } from '../model/host.js';
import { isNetdStyle, type PolicyState, uplinkTable } from '../model/policy.js';
import { parsePool } from '../model/pool.js';
import type { AttachmentRecord, RoutedVethRecord } from '../model/record.js';
import { inIpv6Chains } from '../model/rules.js';
import { DEFAULT_GUEST_IF, type HostSettings } from '../model/settings.js';
import { hostPool6 } from '../net/ipv6.js';
import { guestReachableResolvers } from '../net/resolvers.js';
import { existingLinksWithAliases, observeHost, routesCovering } from '../observe.js';
import { chooseIpv6 } from '../plan/ipv6.js';
import { allocate, guestMac, type Lease } from '../plan/lease.js';
import { currentUplink, planAttachRouted, planDetachRouted } from '../plan/planner.js';
import { uplinkProblem } from '../plan/uplink.js';
import type { AttachInput, LinkDriver, Prepared } from './driver.js';
import { detachOnce, sameType } from './joined.js';

// The routed veth: an addressed host end, forwarding, NAT and guestnet's
// rules (plan/planner.ts). The hot path: a fresh attach looks only at what
// its lease touches, and the record is written before the first change,
// through the store, so the daemon knows the token before the guest can
// read it from its link and say hello.

/** Ethernet's, when the uplink's MTU cannot be read. */
const DEFAULT_MTU = 1500;

async function prepare(input: AttachInput): Promise<Prepared<RoutedVethRecord>> {
  const { guest, records, runner, ctx, extras } = input;
  // A guest with no agent has its link made under its final name; a dhcp guest is IPv4 only.
  const settings = settingsForMode(input.settings);
  const existing = sameType<RoutedVethRecord>(input, 'routed-veth');
  // A re-attach compares against everything; a fresh attach looks only at
  // what its lease touches, probed while the rest is observed.
  const [observation, probed] = await Promise.all([
    observeHost(runner, settings.stateDir, ctx.firewall, records, existing ? undefined : { links: [], ipv6: settings.ipv6 !== 'off' }),
    existing ? undefined : probeLease(runner, records, settings, guest.id),
  ]);
  const lease = probed?.lease ?? allocate(observation, settings, guest.id);
  const uplink = settings.uplink ?? existing?.uplink ?? currentUplink(observation);
  if (uplink === undefined) throw new UplinkNotFoundError('no IPv4 default route to take the uplink from; give --uplink IF');
  const problem = uplinkProblem(uplink, records, { hostIf: lease.hostIf, hostIfPrefix: settings.hostIfPrefix });
  if (problem) throw new UplinkNotFoundError(problem);
  const observed = probed
    ? await withUplink({ ...observation, links: probed.links, routes: [...observation.routes, ...probed.routes] }, uplink)
    : observation;
  if (!observed.links.has(uplink)) throw new UplinkNotFoundError(`uplink ${uplink} does not exist on the host`);

  const policyTable = existing ? existing.policyTable : netdTable(observed.policy, uplink, settings.platform);
  const pool6 = existing ? '' : (settings.pool6 ?? (await hostPool6()));
  const mac = extras.guestMac ?? guestMac(lease.guestAddress);
  const chosen = existing ? existing.ipv6 : chooseIpv6(observed.ipv6, settings.ipv6, pool6, lease.guestAddress);
  const ipv6 = !existing && settings.guestConfig === 'dhcp' ? dhcpIpv6(chosen, mac, settings.ipv6) : chosen;
  // Only a guest agent can be told of IPv6 that comes later: a CNI container keeps what its ADD's result said.
  const follows = settings.ipv6 === 'auto' && guest.cni === undefined && settings.guestConfig === 'agent';
  const ipv6Auto = existing ? existing.ipv6Auto : follows ? { pool6 } : undefined;
  // The first guest whose rules go into IPv6's chains makes them: what is absent there is seen first, so that
  // what iptables-nft makes for them is marked, and goes with the last (firewall/iptables-made.ts).
  const firstIn6 = !existing && ipv6 !== undefined && !records.some(inIpv6Chains);
  const firewall = firstIn6 ? await ctx.firewall.observe(runner, false, true, { chains: true }) : observed.firewall;
  const oneTime = extras.waitsForAgent === true && settings.guestIf === DEFAULT_GUEST_IF;
  const token = existing?.token ?? (oneTime ? newOneTimeToken() : newToken());
  const desired: RoutedVethRecord = {
    type: 'routed-veth',
    ...guest,
    hostIf: lease.hostIf,
    ...(existing ? { hostIfPrefix: existing.hostIfPrefix } : settings.hostIf === undefined ? { hostIfPrefix: settings.hostIfPrefix } : {}),
    // A guest end made under a one-time name keeps it in its record, through any rotation of its token.
    guestIf: existing && ONE_TIME_NAME.test(existing.guestIf) ? existing.guestIf : (oneTimeNameOf(token) ?? settings.guestIf),
    guestName: settings.guestName,
    ...modeFields(settings, guest),
    hostAddress: settings.gateway,
    guestAddress: lease.guestAddress,
    prefixLength: parsePool(settings.pool).prefixLength,
    guestMac: mac,
    mtu: settings.mtu ?? existing?.mtu ?? pathMtu(observed, uplink) ?? DEFAULT_MTU,
    ...(ipv6 ? { ipv6 } : {}),
    ...(ipv6Auto ? { ipv6Auto } : {}),
    ...(settings.mtu !== undefined || existing?.mtuPinned ? { mtuPinned: true as const } : {}),
    guestToGuest: settings.guestToGuest,
    uplink,
    ...(settings.uplink !== undefined || existing?.uplinkPinned ? { uplinkPinned: true as const } : {}),
    ...(policyTable === undefined ? {} : { policyTable }),
    dns: settings.dns ?? existing?.dns ?? (await guestReachableResolvers()),
    token,
    // A re-attach keeps its forwards unless the caller names others.
    forwards: extras.forwards ?? existing?.forwards ?? [],
    firewall: ctx.firewall.name,
    ...(existing && !existing.tagged ? {} : { tagged: true as const }),
  };
  return { observed: { ...observed, firewall }, desired, options: {} };
}

/**
 * The next free lease, chosen from the records and then checked against the
 * host: a link of the host's own with that name, or a host route over that
 * address, sends it round again. Returns what it saw on the way.
 */
async function probeLease(
  runner: Runner,
  records: readonly AttachmentRecord[],
  settings: HostSettings,
  id: string,
): Promise<{ lease: Lease; links: Set<string>; routes: Route[] }> {
  const seen = { records, links: new Set<string>(), routes: [] as Route[] };
  let lease = allocate(seen, settings, id);
  for (let round = 0; round < 64; round++) {
    const [{ links }, routes] = await Promise.all([existingLinksWithAliases([lease.hostIf]), routesCovering(runner, lease.guestAddress)]);
    const newRoutes = routes.filter((r) => !seen.routes.some((o) => o.dst === r.dst && o.dev === r.dev));
    for (const link of links) seen.links.add(link);
    seen.routes.push(...newRoutes);
    const nameTaken = settings.hostIf === undefined && links.has(lease.hostIf);
    if (!nameTaken && newRoutes.length === 0) break;
    lease = allocate(seen, settings, id);
  }
  return { lease, links: seen.links, routes: seen.routes };
}

/** The uplink's table when guests must be routed the netd way: asked for with android, or seen under auto. */
function netdTable(policy: PolicyState, uplink: string, platform: HostSettings['platform']): number | undefined {
  if (platform === 'linux' || (platform === 'auto' && !isNetdStyle(policy))) return undefined;
  const table = uplinkTable(policy, uplink);
  if (table === undefined)
    throw new UplinkNotFoundError(`--platform android: no routing table but main holds a default route via ${uplink}`);
  return table;
}

/** A narrow observation, plus the uplink: whether it exists, and its MTU. */
async function withUplink<T extends { links: ReadonlySet<string>; mtus: ReadonlyMap<string, number> }>(
  observed: T,
  uplink: string,
): Promise<T> {
  const seen = await existingLinksWithAliases([uplink]);
  return { ...observed, links: new Set([...observed.links, ...seen.links]), mtus: new Map([...observed.mtus, ...seen.mtus]) };
}

export const routedVethDriver: LinkDriver<RoutedVethRecord> = {
  prepare,
  planAttach: (observed, desired, existing) => planAttachRouted(observed, desired, existing),
  planDetach: planDetachRouted,
  // Only this guest's link matters: removing its rules tolerates them being gone.
  // The last guest whose rules are in IPv6's chains takes them, and what iptables-nft made for them: seen first.
  detach: (record, records, runner, ctx) => {
    const ipv6 = record.ipv6 !== undefined;
    const ipv6Chains = ipv6 && !records.some((r) => r.id !== record.id && inIpv6Chains(r));
    return detachOnce(record, { links: [record.hostIf], ipv6, ipv6Chains }, planDetachRouted, records, runner, ctx);
  },
};
