import { oneTimeNameOf } from '@guestnet/protocol';
import { dhcpGuestEndLines, dhcpHostEndLines } from '../dhcp/link-setup.js';
import { onLoopback } from '../firewall/localnet.js';
import { configuredAsMadeLines } from '../guest-config/from-host.js';
import { hostEndMac } from '../model/mac.js';
import { IPV6_CONF_DIR } from '../model/paths.js';
import { HOST_LINK_GROUP, hostLinkAlias, type RoutedVethRecord, type VethRecord } from '../model/record.js';
import { IP_BATCH, type Step } from '../model/step.js';

// The steps that make a veth pair and set up its host end: one pair, or a
// group's (plan/group.ts), in as few processes as their guest ends' names allow.

/** The netns the agent runs in: the host's. */
const HOST_NETNS = `/proc/${process.pid}/ns/net`;

/**
 * The host end's settings, written after the link exists and before it comes up, so that no packet ever
 * meets the link without them. A guest is never one of the host's routers: its router advertisements and
 * redirects are ignored, whatever `default` holds (the first IPv6 guest sets its accept_ra to 2, for the
 * host's own links). A routed link carries only what is routed to it (rp_filter), and no IPv6 at all where
 * the guest has none: its neighbour discovery could otherwise fill the neighbour table the whole machine
 * shares. Each setting goes with its link. IPv6's are skipped where the kernel has no IPv6.
 */
function hostEndSysctls(r: VethRecord): Step[] {
  const ipv4 = (key: string, value: string): Step => ({ kind: 'sysctl', path: `/proc/sys/net/ipv4/conf/${r.hostIf}/${key}`, value });
  const ipv6 = (key: string, value: string): Step => ({
    kind: 'sysctl',
    path: `${IPV6_CONF_DIR}/${r.hostIf}/${key}`,
    value,
    ifPresent: true,
  });
  const routed = r.type === 'routed-veth';
  return [
    ipv6('accept_ra', '0'),
    ipv6('accept_redirects', '0'),
    ipv4('accept_redirects', '0'),
    ...(routed ? [ipv4('rp_filter', '1')] : []),
    // Guests believe their whole subnet is on-link; only a guest open to others gets its ARP answered for them.
    ...(routed && r.guestToGuest ? [ipv4('proxy_arp', '1')] : []),
    ...(routed && !r.ipv6 ? [ipv6('disable_ipv6', '1')] : []),
    // A published port the host reaches at 127.0.0.1 (firewall/localnet.ts), for a link made again under rules still in place.
    ...(routed && r.forwards.some(onLoopback) ? [ipv4('route_localnet', '1')] : []),
  ];
}

/** The host end's tag: what makes it ours, even before it is set up. */
const tagLines = (r: VethRecord): string[] =>
  r.tagged ? [`link set dev ${r.hostIf} alias ${hostLinkAlias(r)} group ${HOST_LINK_GROUP}`] : [];

/** A routed host end is made with the MAC its record implies (model/mac.ts); a bridge's port keeps the kernel's. */
const hostEndAddress = (r: VethRecord) => (r.type === 'routed-veth' ? ` address ${hostEndMac(r.guestMac)}` : '');

const guestEnd = (r: VethRecord) => `type veth peer name ${r.guestIf} mtu ${r.mtu} address ${r.guestMac} netns ${r.netnsPath}`;

/** The host end's setup as `ip -batch` lines; `verb` replace where it may hold its addresses (made, never set up). */
const hostEndLines = (r: VethRecord, { tag = true, verb = 'add' } = {}): string[] => {
  // A bridged veth's host end is only a port of the bridge.
  const ipv6 = r.type === 'routed-veth' ? r.ipv6 : undefined;
  return [
    r.type === 'routed-veth'
      ? `address ${verb} ${r.hostAddress}/32 peer ${r.guestAddress}/32 dev ${r.hostIf}`
      : `link set dev ${r.hostIf} master ${r.link}`,
    // The same gateway on every guest link, as for IPv4, and a /128 route to each guest: no two links share a prefix.
    ...(ipv6 ? [`address ${verb} ${ipv6.hostAddress}/128 dev ${r.hostIf} nodad`] : []),
    ...(tag ? tagLines(r) : []),
    `link set dev ${r.hostIf} up`,
    ...dhcpHostEndLines(r),
    ...(ipv6 ? [`route replace ${ipv6.guestAddress}/128 dev ${r.hostIf}`] : []),
  ];
};

const batchInput = (lines: string[]) => [...lines, ''].join('\n');

/** Whether one host process can make the pair: its guest end's name is its token, so it needs no alias. */
const madeOnHost = (r: VethRecord) => oneTimeNameOf(r.token) === r.guestIf;

// The pair is made with its guest end created in the guest's netns: moving a link between netns costs the kernel
// far more than creating it in place. The guest end carries the token (the guest's proof of identity, see
// protocol/README.md) from its creation, so the guest agent, woken by the link's arrival, finds it tagged; and
// only the guest's netns ever holds the token. The kernel takes a name at creation but no alias: one-time names
// that are the tokens let one host process make and set up the pairs, their host ends' settings written while
// that process waits halfway (it prints the last new link once made: every one before it was made too). A guest
// end of a lasting name needs its alias set in the guest's netns, so a process there makes that pair (and
// configures its end, for a guest the host configures); the host ends of all such pairs are then set up in one
// process, their settings written before it. Either way the settings precede the setup, which brings the host end up.
function vethPairs(records: readonly VethRecord[]): Step[] {
  const onHost = records.filter(madeOnHost);
  const inGuests = records.filter((r) => !madeOnHost(r));
  const last = onHost.at(-1);
  const hostMade: Step[] = last
    ? [
        {
          kind: 'run',
          argv: [...IP_BATCH],
          spare: 'ip-batch',
          input: batchInput([
            // Tagged at once: should the agent die halfway, the link is still known as ours (setUpHostEnd).
            ...onHost.flatMap((r) => [`link add ${r.hostIf} mtu ${r.mtu}${hostEndAddress(r)} ${guestEnd(r)}`, ...tagLines(r)]),
            `link show dev ${last.hostIf}`,
          ]),
          midway: { steps: onHost.flatMap(hostEndSysctls), rest: batchInput(onHost.flatMap((r) => hostEndLines(r, { tag: false }))) },
        },
      ]
    : [];
  const madeInGuests = inGuests.map(
    (r): Step => ({
      kind: 'run',
      argv: ['nsenter', `--net=${r.netnsPath}`, 'ip', '-batch', '-'],
      input: batchInput([
        `link add ${r.guestIf} mtu ${r.mtu} address ${r.guestMac} type veth peer name ${r.hostIf} mtu ${r.mtu}${hostEndAddress(r)} netns ${HOST_NETNS}`,
        `link set dev ${r.guestIf} alias ${r.token}`,
        ...dhcpGuestEndLines(r),
        ...configuredAsMadeLines(r),
      ]),
    }),
  );
  const setUp: Step[] =
    inGuests.length === 0
      ? []
      : [{ kind: 'run', argv: [...IP_BATCH], spare: 'ip-batch', input: batchInput(inGuests.flatMap((r) => hostEndLines(r))) }];
  return [...hostMade, ...madeInGuests, ...inGuests.flatMap(hostEndSysctls), ...setUp];
}

export const vethSteps = {
  createVeth: ({ record }: { record: VethRecord }): Step[] => vethPairs([record]),
  createVeths: ({ records }: { records: RoutedVethRecord[] }): Step[] => vethPairs(records),
  setUpHostEnd: ({ record: r }: { record: RoutedVethRecord }): Step[] => [
    ...hostEndSysctls(r),
    { kind: 'run', argv: [...IP_BATCH], spare: 'ip-batch', input: batchInput(hostEndLines(r, { verb: 'replace' })) },
  ],
};
