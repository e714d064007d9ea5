import { UsageError } from '@guestnet/protocol';
import { defaultGuestConfig } from '../model/guest-config.js';
import type { GuestIdentity, RoutedVethRecord } from '../model/record.js';
import type { HostSettings } from '../model/settings.js';

// What a guest-config mode changes in an attach, kept here so that the attach
// path only asks. A guest with no agent has no one to rename its link: the
// link is made under its final name (`--guest-name eth0` for Android's
// EthernetService). A dhcp guest is IPv4 only: DHCPv4 gives it its address,
// and SLAAC would need a /64 per link where the pool gives a /128.

/** The settings an attach works with for the mode `settings` asks for. */
export function settingsForMode(settings: HostSettings): HostSettings {
  const mode = settings.guestConfig;
  if (mode === 'agent') return settings;
  return { ...settings, guestIf: settings.guestName, ...(mode === 'dhcp' ? { ipv6: 'off' as const } : {}) };
}

/** The record's field for the mode: none for the default of the guest's kind, as in records of older versions. */
export function modeFields(
  settings: Pick<HostSettings, 'guestConfig'>,
  guest: Pick<GuestIdentity, 'cni'>,
): Pick<RoutedVethRecord, 'guestConfig'> {
  return settings.guestConfig === defaultGuestConfig(guest) ? {} : { guestConfig: settings.guestConfig };
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
