import { UsageError } from '@guestnet/protocol';
import { defaultGuestConfig } from './guest-config.js';
import { type GuestIpv6, type Ipv6Choice, slaacAddressOf } from './ipv6.js';
import type { GuestIdentity, RoutedVethRecord } from './record.js';
import type { HostSettings } from './settings.js';

// What a guest-config mode changes in an attach, kept here so that the attach
// path only asks. A guest with no agent has no one to rename its link: the
// link is made under its final name (`--guest-name eth0` for Android's
// EthernetService). A dhcp guest's IPv6 is the address its own kernel forms
// by SLAAC from the host's router advertisements: the pool's /64 and its MAC.
// The host knows it before the guest does, and routes, checks and
// masquerades it as it does any guest's /128.

/** The settings an attach works with for the mode `settings` asks for. */
export function settingsForMode(settings: HostSettings): HostSettings {
  const mode = settings.guestConfig;
  if (mode === 'agent') return settings;
  return { ...settings, guestIf: settings.guestName };
}

/** The record's field for the mode: none for the default of the guest's kind, as in records of older versions. */
export function modeFields(
  settings: Pick<HostSettings, 'guestConfig'>,
  guest: Pick<GuestIdentity, 'cni'>,
): Pick<RoutedVethRecord, 'guestConfig'> {
  return settings.guestConfig === defaultGuestConfig(guest) ? {} : { guestConfig: settings.guestConfig };
}

/** A dhcp guest's IPv6: its SLAAC address in the pool's /64, or none where the pool is no /64 (refused unless auto chose it). */
export function dhcpIpv6(ipv6: GuestIpv6 | undefined, mac: string, choice: Ipv6Choice): GuestIpv6 | undefined {
  if (!ipv6) return undefined;
  if (ipv6.prefixLength === 64) return { ...ipv6, guestAddress: slaacAddressOf(ipv6.guestAddress, mac) };
  if (choice === 'auto') return undefined;
  throw new UsageError(
    `--guest-config dhcp --ipv6 ${choice}: the guest forms its IPv6 address by SLAAC, in a /64, and --pool6 is a /${ipv6.prefixLength}`,
  );
}

/**
 * The wait an attach command line asks for: `--no-wait` for an agent, and
 * `--wait-lease` for a dhcp guest, which attach does not wait for otherwise.
 */
export function waitOf(settings: Pick<HostSettings, 'guestConfig'>, options: { wait?: unknown; waitLease?: unknown }): boolean {
  if (options.waitLease === true && settings.guestConfig !== 'dhcp')
    throw new UsageError("--wait-lease is for --guest-config dhcp: it waits for the guest's DHCP client to take its lease");
  return settings.guestConfig === 'dhcp' ? options.waitLease === true : options.wait !== false;
}

/** A one-shot attach (no daemon serves the state dir) has no lasting DHCP server to answer a dhcp guest. */
export function refuseOneShot(settings: Pick<HostSettings, 'guestConfig' | 'stateDir'>): void {
  if (settings.guestConfig === 'dhcp')
    throw new UsageError(
      `--guest-config dhcp needs the daemon: no host-agent serve serves ${settings.stateDir}, and only it answers the guest's DHCP client`,
    );
}
