import { type LastApply, linkIdOf, tokenOfLink } from '@guestnet/protocol';
import { nameservers, pidAlive } from '@guestnet/runtime';
import { wrap } from '@guestnet/runtime/layout';
import { dnsOf } from '../android/ipconfig.js';
import { ipv6Enabled } from '../ip.js';
import { type GuestLink, observeGuest } from '../observe.js';
import type { DnsTarget } from '../planner.js';
import { type HostState, readStatus } from '../status-file.js';

export interface GuestStatus {
  agent: { running: boolean; pid: number | undefined };
  host: { state: HostState | 'unknown'; since: string | undefined; socket: string | undefined };
  link: Omit<GuestLink, 'alias'> | undefined;
  defaultRoute: { gateway: string; dev: string } | undefined;
  defaultRoute6: { gateway: string; dev: string } | undefined;
  /** False when no rule lets routes in main be used (an Android netd flush). */
  mainReachable: boolean;
  dns: string[];
  lastApply: LastApply | undefined;
}

/** What the kernel has in force, plus what the running agent knows: the host connection and the last apply. */
export async function guestStatus(statusFile: string, dnsTarget: DnsTarget): Promise<GuestStatus> {
  const [agent, observed] = await Promise.all([readStatus(statusFile), observeGuest(dnsTarget.path, {}, ipv6Enabled())]);
  const running = agent !== undefined && pidAlive(agent.pid);
  const ours = observed.links.find((link) => {
    const token = tokenOfLink(link);
    // By its ifindex too: the host may have just given it a new token that the file does not name yet.
    return token !== undefined && (agent?.link === undefined || linkIdOf(token) === agent.link || link.index === agent.linkIndex);
  });
  const dns = dnsServers(observed.dnsFile, dnsTarget, ours?.name);
  return {
    agent: { running, pid: running ? agent.pid : undefined },
    host: running ? { ...agent.host, socket: agent.socket } : { state: 'unknown', since: undefined, socket: undefined },
    link: ours && {
      name: ours.name,
      mtu: ours.mtu,
      up: ours.up,
      addresses: ours.addresses,
      ...(ours.addresses6?.length ? { addresses6: ours.addresses6 } : {}),
    },
    defaultRoute: observed.defaultRoute,
    defaultRoute6: observed.defaultRoute6,
    mainReachable: observed.mainRulePriority !== undefined,
    dns,
    lastApply: running ? agent.lastApply : undefined,
  };
}

function dnsServers(file: Buffer | undefined, target: DnsTarget, link: string | undefined): string[] {
  if (!file) return [];
  if (target.kind === 'ipconfig') {
    try {
      return link ? dnsOf(file, link) : [];
    } catch {
      return [];
    }
  }
  return nameservers(file.toString('utf8'));
}

/** Short aligned lines of at most `width`, a long value continued under itself: read on a phone over adb shell. */
export function formatGuestStatus(status: GuestStatus, width: number): string {
  const { agent, host, link, defaultRoute, lastApply } = status;
  const rows: Array<[string, string]> = [
    ['agent', agent.running ? `running (pid ${agent.pid})` : 'not running'],
    ['host', agent.running ? `${host.state} since ${host.since} (${host.socket})` : 'unknown'],
    ['link', link ? `${link.name} ${link.up ? 'up' : 'DOWN'}, mtu ${link.mtu}` : 'none from guestnet'],
    ['address', [...(link?.addresses ?? []), ...(link?.addresses6 ?? [])].join(', ') || 'none'],
    [
      'route',
      defaultRoute
        ? `default via ${defaultRoute.gateway} dev ${defaultRoute.dev}${status.mainReachable ? '' : ' (UNUSED: no ip rule looks up main)'}`
        : 'no default route',
    ],
    ...(status.defaultRoute6
      ? [['route6', `default via ${status.defaultRoute6.gateway} dev ${status.defaultRoute6.dev}`] as [string, string]]
      : []),
    ['dns', status.dns.join(', ') || 'none'],
    [
      'last apply',
      !lastApply
        ? 'none'
        : lastApply.ok
          ? `ok at ${lastApply.at}, ${lastApply.changes} changes`
          : `FAILED at ${lastApply.at}: ${lastApply.error}`,
    ],
  ];
  return rows.flatMap(([key, value]) => wrap(`${key.padEnd(11)}${value}`, width, ' '.repeat(11))).join('\n');
}
