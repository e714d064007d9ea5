import { promises as fs } from 'node:fs';
import { callDaemon } from '../daemon/control.js';
import type { Status } from '../service/status.js';
import { isDhcpGuest } from '../model/guest-config.js';
import type { RoutedVethRecord } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';
import { radvdVersion } from '../ra/radvd.js';
import { readRecords } from '../state/store.js';
import { type Check, type Finding, ok } from './finding.js';

// `--guest-config dhcp` guests (model/guest-config.ts): the daemon's DHCP
// server answers their own clients. Doctor asks the daemon what each has
// done: a guest whose client never asked has no address, and most likely no
// client on that link. Without a daemon, nothing answers them at all. A DHCP
// server bound to every address (a dnsmasq without bind-interfaces) keeps the
// daemon off port 67.

/** What the check reads of this host beyond the records and the daemon. */
export interface DhcpHostLooks {
  /** This netns's /proc/net/udp; empty when it cannot be read. */
  udpTable(): Promise<string>;
  /** Undefined when radvd is not installed. */
  radvdVersion(): Promise<string | undefined>;
}

const THIS_HOST: DhcpHostLooks = {
  udpTable: () => fs.readFile('/proc/net/udp', 'utf8').catch(() => ''),
  radvdVersion: () => radvdVersion(),
};

/** Whether something in this netns listens on UDP port 67 of every address. */
async function wildcardDhcp(looks: DhcpHostLooks): Promise<boolean> {
  const table = await looks.udpTable();
  return table.split('\n').some((line) => line.trim().split(/\s+/)[1] === '00000000:0043');
}

/** dhcp guests with IPv6 take it by SLAAC from the daemon's radvd: without radvd they have none. */
async function radvdMissing(records: readonly RoutedVethRecord[], looks: DhcpHostLooks): Promise<Finding[]> {
  const withIpv6 = records.filter((r) => r.ipv6 !== undefined);
  if (withIpv6.length === 0 || (await looks.radvdVersion()) !== undefined) return [];
  return [
    {
      check: 'dhcp',
      status: 'warn',
      detail: `radvd is not installed: ${withIpv6.length} dhcp guest(s) get no router advertisements, and so no IPv6`,
      fix: 'install radvd (apt install radvd), or attach them with --ipv6 off',
    },
  ];
}

export const dhcpGuests: Check = (settings) => dhcpFindings(settings, THIS_HOST);

/** The findings of dhcpGuests, from what `looks` reads of the host. */
export async function dhcpFindings(settings: HostSettings, looks: DhcpHostLooks): Promise<Finding[]> {
  const records = (await readRecords(settings.stateDir)).filter(isDhcpGuest);
  const port = (await wildcardDhcp(looks)) ? ' (port 67 is held on every address, by the daemon or another DHCP server)' : '';
  if (records.length === 0) return [ok('dhcp', `no guest takes its configuration by DHCP${port}`)];
  const daemon = await callDaemon(settings.stateDir, { type: 'status' }, 10_000);
  if (!daemon.served)
    return [
      {
        check: 'dhcp',
        status: 'fail',
        detail: `${records.length} guest(s) attached with --guest-config dhcp, and no daemon serves ${settings.stateDir}: nothing answers their DHCP clients`,
        fix: `start host-agent serve --state-dir ${settings.stateDir}`,
      },
    ];
  const missing = await radvdMissing(records, looks);
  const guests = (daemon.result as Status).guests.filter((g) => g.guestConfig === 'dhcp' && g.state === 'alive');
  const silent = guests.filter((g) => g.dhcp?.state === 'none');
  const findings: Finding[] = [
    ...missing,
    ...silent.map(
      (g): Finding => ({
        check: 'dhcp',
        status: 'warn',
        detail: `guest ${g.label} (${g.hostIf}) never asked for its lease since the daemon started: it has no address`,
        fix: `run a DHCP client on ${g.guestIf} in the guest (udhcpc -i ${g.guestIf}), or attach it with --guest-config host`,
      }),
    ),
  ];
  return findings.length > 0 ? findings : [ok('dhcp', `${guests.length} DHCP guest(s), each of which has asked for its lease`)];
}
