import { readFile } from 'node:fs/promises';
import type { LastApply } from '@guestnet/protocol';
import { IP_FORWARD_PATH } from '../model/paths.js';
import { describeType, isRouted } from '../model/link-type.js';
import type { AttachmentRecord } from '../model/record.js';
import type { Reader } from '../model/step.js';
import { type ForwardStatus, forwardsInForce } from './forwards.js';
import { guestAlive } from './preflight.js';
import { readRecords } from '../state/records.js';

export interface Counters {
  packets: number;
  bytes: number;
}

export interface GuestStatus {
  pid: number | null;
  id: string;
  state: 'alive' | 'gone';
  /** The network type, as "veth (routed)", "macvlan on eth1", ... */
  type: string;
  hostIf: string;
  /** The link's name inside the guest. */
  guestIf: string;
  address: string;
  prefixLength: number;
  gateway: string;
  uplink: string;
  /** null: IPv4 only. */
  ipv6: { mode: string; address: string; prefixLength: number; gateway: string; uplink: string } | null;
  mac: string;
  agent: 'connected' | 'disconnected' | 'unknown';
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
export type AgentView = (token: string) => { connected: boolean; lastApply: LastApply | undefined };

type LinkStats = { ifname: string; stats64?: { rx: Counters; tx: Counters } };

export async function collectStatus(stateDir: string, runner: Reader, agents?: AgentView): Promise<Status> {
  const [records, links, ipForward] = await Promise.all([
    readRecords(stateDir),
    runner.read(['ip', '-s', '-j', 'link', 'show']).then((text) => JSON.parse(text) as LinkStats[]),
    readFile(IP_FORWARD_PATH, 'utf8').then(
      (text) => text.trim(),
      () => 'unknown',
    ),
  ]);
  const stats = new Map(links.map((link) => [link.ifname, link.stats64]));
  const forwardsOf = await forwardsInForce(records, runner);
  const blockedBy = (r: AttachmentRecord): string | null => {
    if (!isRouted(r)) return null;
    if (ipForward !== '1') return `net.ipv4.ip_forward is ${ipForward}`;
    if (!stats.has(r.hostIf)) return `its link ${r.hostIf} is gone`;
    if (!stats.has(r.uplink)) return `its uplink ${r.uplink} is gone`;
    return null;
  };
  const guests = await Promise.all(
    records.map(async (r): Promise<GuestStatus> => {
      const counters = stats.get(r.hostIf);
      const view = agents?.(r.token);
      return {
        pid: r.pid ?? null,
        id: r.id,
        state: (await guestAlive(r)) ? 'alive' : 'gone',
        type: describeType(r),
        hostIf: r.hostIf,
        guestIf: r.guestName,
        address: r.guestAddress,
        prefixLength: r.prefixLength,
        gateway: r.hostAddress,
        uplink: r.uplink,
        ipv6: r.ipv6
          ? {
              mode: r.ipv6.mode,
              address: r.ipv6.guestAddress,
              prefixLength: r.ipv6.prefixLength,
              gateway: r.ipv6.hostAddress,
              uplink: r.ipv6.uplink,
            }
          : null,
        mac: r.guestMac,
        agent: view === undefined ? 'unknown' : view.connected ? 'connected' : 'disconnected',
        lastApply: view?.lastApply ?? null,
        fromGuest: counters ? { packets: counters.rx.packets, bytes: counters.rx.bytes } : null,
        toGuest: counters ? { packets: counters.tx.packets, bytes: counters.tx.bytes } : null,
        forwards: forwardsOf(r),
        blocked: blockedBy(r),
      };
    }),
  );
  return { daemon: agents !== undefined, guests };
}
