// A phys NIC is known by what the kernel says of it and a guest cannot
// change: the device beneath it (its bus and its address on that bus) and
// the MAC it was made with. Its name, alias and current MAC are the guest's
// to change while it holds the NIC, so they identify nothing. A link that
// the kernel reports with a kind (veth, macvlan, tun, bridge...) is one some
// program made, not hardware, and no guest can make a link with a device
// beneath it.

/** What identifies a NIC whatever its holder does to it. */
export interface NicIdentity {
  /** The bus of the device beneath the link, as `ip -d` prints parentbus: "pci", "usb", "virtio". */
  bus: string;
  /** The device on that bus, as parentdev: "0000:03:00.0", "virtio2". */
  device: string;
  /** The MAC it was made with (permaddr, or the current MAC when ip prints none: then they are the same). */
  permanentMac: string;
}

/** A link as `ip -d -j link show` (or `address show`) prints it: the fields that matter here. */
export interface LinkDetails {
  ifname: string;
  ifalias?: string;
  address?: string;
  permaddr?: string;
  parentbus?: string;
  parentdev?: string;
  linkinfo?: { info_kind?: string };
}

/** Why `link` is not a NIC, in words for an error; undefined when it is one. */
export function notANic(link: LinkDetails): string | undefined {
  const kind = link.linkinfo?.info_kind;
  if (kind !== undefined) return `the kernel shows a ${kind} link`;
  if (!link.parentbus || !link.parentdev) return 'the kernel shows no device beneath it';
  if (!link.address) return 'the kernel shows no MAC';
  return undefined;
}

/** The identity of a NIC; undefined for a link that is not one. */
export function nicIdentityOf(link: LinkDetails): NicIdentity | undefined {
  if (notANic(link) !== undefined) return undefined;
  return { bus: link.parentbus as string, device: link.parentdev as string, permanentMac: link.permaddr ?? (link.address as string) };
}

/** Whether `link` is the NIC `identity` names. */
export function isNic(link: LinkDetails, identity: NicIdentity): boolean {
  const seen = nicIdentityOf(link);
  return seen !== undefined && seen.bus === identity.bus && seen.device === identity.device && seen.permanentMac === identity.permanentMac;
}

/**
 * Where a phys guest's NIC is, seen from the host and from inside the guest:
 * what detach plans from. Links are named as each netns knows them.
 */
export interface NicSeen {
  /** The guest's netns is the record's and could be looked into. */
  guestAlive: boolean;
  /** The NIC's name inside the guest. */
  inGuest?: string;
  /** The NIC's name on the host: under our passing name, or carrying our mark after the kernel returned it. */
  onHost?: string;
  /** A link under our passing name that is not the NIC: what a guest slipped in while its NIC was fetched. */
  impostor?: string;
}
