import { readFile } from 'node:fs/promises';
import { type LastApply, oneTimeNameOf } from '@guestnet/protocol';
import type { DhcpLeaseView } from '../guest-config/dhcp-service.js';
import { type GuestConfigMode, guestConfigModeOf } from '../model/guest-config.js';
import { IP_FORWARD_PATH } from '../model/paths.js';
import { describeType } from '../model/link-type.js';
import { type AttachmentRecord, guestEndShown, hasGuestLink, hasHostEnd, hostEndOf, isRouted } from '../model/record.js';
import type { Reader } from '../model/step.js';
import { type Counters, type LinkState, linkStates } from '../net/link-state.js';
import { type ForwardStatus, forwardsInForce } from './forwards.js';
import { guestAlive, netnsAt } from '../observe.js';

export type { Counters };

export interface GuestStatus {
  pid: number | null;
  id: string;
  /** How the table names it in 80 columns: the pid, or the container id's first 12 characters and the interface. */
  label: string;
  state: 'alive' | 'gone';
  /** A step of its removal failed: what is left is removed by the daemon's next pass or a detach. */
  undoing: boolean;
  /** The network type, as "veth (routed)", "macvlan on eth1", ... */
  type: string;
  /** The host end of a veth; null for the types that have none. */
  hostIf: string | null;
  /**
   * The link's name inside the guest as it is now (vm_wlan0 until an agent
   * renames it), "?" when the guest has no such link; the planned name when it
   * cannot be looked at (a guest without a process).
   */
  guestIf: string | null;
  /** Whether the guest's end is up, as its veth peer on the host tells; null where that cannot be seen. */
  guestLinkUp: boolean | null;
  /** null: a DHCP guest (its lease is in lastApply), or a type without a guest link. */
  address: string | null;
  prefixLength: number | null;
  gateway: string | null;
  /** A routed guest's; null for the other types, which join a network rather than route through an uplink. */
  uplink: string | null;
  /** null: IPv4 only. */
  ipv6: { mode: string; address: string; prefixLength: number; gateway: string; uplink: string } | null;
  mac: string | null;
  /** none: no agent is expected (CNI, empty and none, a link no agent has taken over); unknown: no daemon to ask. */
  agent: 'connected' | 'disconnected' | 'unknown' | 'none';
  /** Who configures the guest's end: agent, dhcp (its own client) or host (DNS is then the caller's). */
  guestConfig: GuestConfigMode;
  /** A dhcp guest's lease as the daemon knows it; null for other guests, or with no daemon to ask. */
  dhcp: DhcpLeaseView | null;
  lastApply: LastApply | null;
  /** As the host link counts them: received from the guest, sent to it. */
  fromGuest: Counters | null;
  toGuest: Counters | null;
  /** Each with inForce: whether its rules are in the firewall now. */
  forwards: ForwardStatus[];
  /** Why the guest cannot be online whatever its agent says, or null. */
  blocked: string | null;
}

export interface Status {
  daemon: boolean;
  guests: GuestStatus[];
}

/** What the daemon knows about a guest's agent; absent when no daemon runs. */
export type AgentView = (record: AttachmentRecord) => {
  connected: boolean;
  lastApply: LastApply | undefined;
  dhcp: DhcpLeaseView | undefined;
};

/**
 * The names of the links in the netns of the guest's process, from
 * /proc/<pid>/net/dev: one file read, no process entering the guest.
 * Undefined when the process is gone or now in another netns.
 */
async function linksInGuest(record: AttachmentRecord): Promise<string[] | undefined> {
  if (record.pid === undefined || (await netnsAt(record.netnsPath)) !== record.netns) return undefined;
  const text = await readFile(`/proc/${record.pid}/net/dev`, 'utf8').catch(() => undefined);
  return text
    ?.split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter(Boolean);
}

/** A veth's host end has no carrier while its guest end is down; an end that is down itself tells nothing. */
function guestEndUp(record: AttachmentRecord, hostEnd: LinkState | undefined): boolean | null {
  if (!hasHostEnd(record) || !hostEnd?.up) return null;
  return hostEnd.lowerUp;
}

type Agent = GuestStatus['agent'];

/** What the agent column says, the guest link's current name being `seen` (undefined: not looked at). */
function agentOf(record: AttachmentRecord, seen: string | undefined, view: ReturnType<AgentView> | undefined): Agent {
  if (view?.connected) return 'connected';
  // A guest configured by its own DHCP client or by the host has no agent; a CNI container may run one (guestConfig agent).
  if (guestConfigModeOf(record) !== 'agent' || !hasGuestLink(record)) return 'none';
  const { guestIf, guestName } = record;
  // An agent renames the link it takes over: one still under the name attach
  // gave it (after --no-wait; a one-time name means an agent is awaited) never had one.
  const untouched = seen === guestIf && guestIf !== guestName && oneTimeNameOf(record.token) !== guestIf;
  if (untouched) return 'none';
  return view === undefined ? 'unknown' : 'disconnected';
}

/** The guest link's name now: the name attach gave it until an agent renames it. */
function nameSeen(record: AttachmentRecord, links: string[] | undefined): string | undefined {
  if (links === undefined || !hasGuestLink(record)) return undefined;
  return [record.guestIf, record.guestName].find((name) => links.includes(name)) ?? '?';
}

/**
 * Each guest of `records` as the host shows it now. It runs no process for
 * links (sysfs) and takes no lock, so it answers while a command hangs;
 * `runner` is asked only for the firewall, and only when some guest
 * publishes ports.
 */
export async function collectStatus(records: readonly AttachmentRecord[], runner: Reader, agents?: AgentView): Promise<Status> {
  const ipForward = await readFile(IP_FORWARD_PATH, 'utf8').then(
    (text) => text.trim(),
    () => 'unknown',
  );
  const [stats, forwardsOf] = await Promise.all([
    linkStates(records.flatMap((r) => [hostEndOf(r) ?? [], isRouted(r) ? r.uplink : []].flat())),
    forwardsInForce(records, runner),
  ]);
  const blockedBy = (r: AttachmentRecord): string | null => {
    if (!isRouted(r)) return null;
    if (ipForward !== '1') return `net.ipv4.ip_forward is ${ipForward}`;
    if (!stats.has(r.hostIf)) return `its link ${r.hostIf} is gone`;
    if (!stats.has(r.uplink)) return `its uplink ${r.uplink} is gone`;
    return null;
  };
  const guests = await Promise.all(
    records.map(async (r): Promise<GuestStatus> => {
      const hostIf = hostEndOf(r);
      const counters = hostIf === undefined ? undefined : stats.get(hostIf);
      const link = hasGuestLink(r) ? r : undefined;
      const routed = isRouted(r) ? r : undefined;
      const view = agents?.(r);
      const alive = await guestAlive(r);
      const seen = alive ? nameSeen(r, await linksInGuest(r)) : undefined;
      return {
        pid: r.pid ?? null,
        id: r.id,
        label: r.cni ? `${r.cni.containerId.slice(0, 12)}/${r.cni.ifname}` : String(r.pid ?? r.id),
        state: alive ? 'alive' : 'gone',
        undoing: r.undoing === true,
        type: describeType(r),
        hostIf: hostIf ?? null,
        guestIf: seen === undefined ? (link?.guestName ?? null) : guestEndShown({ guestIf: seen }),
        guestLinkUp: alive && hostIf !== undefined ? guestEndUp(r, stats.get(hostIf)) : null,
        address: link?.guestAddress ?? null,
        prefixLength: link?.prefixLength ?? null,
        gateway: link?.hostAddress ?? null,
        uplink: routed?.uplink ?? null,
        ipv6: routed?.ipv6
          ? {
              mode: routed.ipv6.mode,
              address: routed.ipv6.guestAddress,
              prefixLength: routed.ipv6.prefixLength,
              gateway: routed.ipv6.hostAddress,
              uplink: routed.ipv6.uplink,
            }
          : null,
        mac: link?.guestMac ?? null,
        agent: agentOf(r, seen, view),
        guestConfig: guestConfigModeOf(r),
        dhcp: view?.dhcp ?? null,
        lastApply: view?.lastApply ?? null,
        fromGuest: counters ? counters.rx : null,
        toGuest: counters ? counters.tx : null,
        forwards: forwardsOf(r),
        blocked: blockedBy(r),
      };
    }),
  );
  return { daemon: agents !== undefined, guests };
}
