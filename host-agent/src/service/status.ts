import type { LastApply } from '@guestnet/protocol';
import type { PortForward } from '../model/port-forward.js';
import type { Reader } from '../model/step.js';
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
  hostIf: string;
  /** The link's name inside the guest. */
  guestIf: string;
  address: string;
  prefixLength: number;
  gateway: string;
  uplink: string;
  mac: string;
  agent: 'connected' | 'disconnected' | 'unknown';
  lastApply: LastApply | null;
  /** As the host link counts them: received from the guest, sent to it. */
  fromGuest: Counters | null;
  toGuest: Counters | null;
  forwards: PortForward[];
}

export interface Status {
  daemon: boolean;
  guests: GuestStatus[];
}

/** What the daemon knows about a guest's agent; absent when no daemon runs. */
export type AgentView = (token: string) => { connected: boolean; lastApply: LastApply | undefined };

type LinkStats = { ifname: string; stats64?: { rx: Counters; tx: Counters } };

export async function collectStatus(stateDir: string, runner: Reader, agents?: AgentView): Promise<Status> {
  const [records, links] = await Promise.all([
    readRecords(stateDir),
    runner.read(['ip', '-s', '-j', 'link', 'show']).then((text) => JSON.parse(text) as LinkStats[]),
  ]);
  const stats = new Map(links.map((link) => [link.ifname, link.stats64]));
  const guests = await Promise.all(
    records.map(async (r): Promise<GuestStatus> => {
      const counters = stats.get(r.hostIf);
      const view = agents?.(r.token);
      return {
        pid: r.pid ?? null,
        id: r.id,
        state: (await guestAlive(r)) ? 'alive' : 'gone',
        hostIf: r.hostIf,
        guestIf: r.guestName,
        address: r.guestAddress,
        prefixLength: r.prefixLength,
        gateway: r.hostAddress,
        uplink: r.uplink,
        mac: r.guestMac,
        agent: view === undefined ? 'unknown' : view.connected ? 'connected' : 'disconnected',
        lastApply: view?.lastApply ?? null,
        fromGuest: counters ? { packets: counters.rx.packets, bytes: counters.rx.bytes } : null,
        toGuest: counters ? { packets: counters.tx.packets, bytes: counters.tx.bytes } : null,
        forwards: r.forwards,
      };
    }),
  );
  return { daemon: agents !== undefined, guests };
}

