import { type AppliedState, type GuestConfig, NameTakenError, tokenOfLink } from '@guestnet/protocol';
import { withEntry } from './android/ipconfig.js';
import type { GuestLink, GuestObserved, IpState } from './observe.js';
import type { GuestOp } from './ops.js';

// Where the kernel's own default rule for main sits.
const MAIN_RULE_PRIORITY = 32766;

/**
 * Where the guest's DNS servers go. Linux reads resolv.conf; Android 8+
 * ignores it and the net.dns* properties, and takes DNS (with the address
 * and gateway) from EthernetService's ipconfig.txt.
 */
export type DnsTarget = { kind: 'resolv.conf'; path: string } | { kind: 'ipconfig'; path: string } | { kind: 'none'; path?: undefined };

export function renderResolvConf(servers: string[]): string {
  return `# written by guestnet guest-agent\n${servers.map((s) => `nameserver ${s}`).join('\n')}\n`;
}

/** The link the host created for us: only it carries our attach token, as its alias or its first name. */
export function findOurLink(observed: Pick<GuestObserved, 'links'>, token: string) {
  return observed.links.find((link) => tokenOfLink(link) === token);
}

/** Ops from `observed` to what `configure` asks for. Empty when it is already in place. */
export function planGuest(observed: GuestObserved, configure: GuestConfig, dnsTarget: DnsTarget): GuestOp[] {
  const want = configure.link;
  const link = findOurLink(observed, configure.token);
  if (!link) throw new Error(`no link carries this attach's token yet`);
  const squatter = observed.links.find((l) => l.name === want.rename && l !== link);
  if (squatter) throw new NameTakenError(`the guest already has another link named ${want.rename}`);

  const ops: GuestOp[] = [];
  // Anything listening on localhost in the guest needs lo, and a fresh netns has it down.
  const loopback = observed.links.find((l) => l.name === 'lo');
  if (loopback && !loopback.up) ops.push({ kind: 'linkUp', name: 'lo' });
  if (link.name !== want.rename) ops.push({ kind: 'renameLink', from: link.name, to: want.rename });
  const name = want.rename;
  const renamed = link.name !== want.rename;
  // A token that came in the first name goes into the alias, where it outlives the rename: a restarted agent finds its link again.
  if (link.alias !== configure.token) ops.push({ kind: 'setAlias', name, alias: configure.token, before: link.alias });
  if (link.mtu !== want.mtu) ops.push({ kind: 'setMtu', name, mtu: want.mtu, before: link.mtu });
  const cidr = `${want.address}/${want.prefixLength}`;
  // A DHCP link is only named, sized and brought up here: its lease is applied as a static configuration once it comes.
  if (!want.dhcp && !link.addresses.includes(cidr)) ops.push({ kind: 'addAddress', name, cidr });
  if (!link.up || renamed) ops.push({ kind: 'linkUp', name });
  if (want.dhcp) return [...ops, ...dnsFileOps(observed, configure, dnsTarget)];
  const route = observed.defaultRoute;
  if (route?.gateway !== want.gateway || route.dev !== name) {
    ops.push({ kind: 'setDefaultRoute', gateway: want.gateway, dev: name, before: route });
  }
  if (want.ipv6) {
    const cidr6 = `${want.ipv6.address}/${want.ipv6.prefixLength}`;
    if (!link.addresses6?.includes(cidr6)) ops.push({ kind: 'addAddress', name, cidr: cidr6 });
    const route6 = observed.defaultRoute6;
    if (route6?.gateway !== want.ipv6.gateway || route6.dev !== name) {
      ops.push({ kind: 'setDefaultRoute', gateway: want.ipv6.gateway, dev: name, before: route6 });
    }
  } else ops.push(...ipv6Withdrawn(observed, link, name));
  // An Android guest's netd flushes the rules and leaves none that reads main,
  // where our default route lives; consult main just before its catch-all.
  const mainRule = ({ terminalRulePriority }: { terminalRulePriority: number | undefined }) =>
    Math.min(MAIN_RULE_PRIORITY, (terminalRulePriority ?? MAIN_RULE_PRIORITY + 1) - 1);
  if (observed.mainRulePriority === undefined) ops.push({ kind: 'addMainRule', priority: mainRule(observed) });
  if (want.ipv6 && observed.rules6 && observed.rules6.mainRulePriority === undefined)
    ops.push({ kind: 'addMainRule', priority: mainRule(observed.rules6), family: 6 });
  return [...ops, ...dnsFileOps(observed, configure, dnsTarget)];
}

/**
 * The host took IPv6 back (it has none to share any more): our link's global
 * addresses and the IPv6 default route by it go. Only where IPv6 was read,
 * which the keeper does when the configuration it replaces had IPv6. The link
 * is the host's to configure: every global address on it came from the host.
 */
function ipv6Withdrawn(observed: GuestObserved, link: GuestLink, name: string): GuestOp[] {
  if (link.addresses6 === undefined) return [];
  const route6 = observed.defaultRoute6;
  const route: GuestOp[] =
    route6?.dev === link.name ? [{ kind: 'deleteDefaultRoute', family: 6, before: { gateway: route6.gateway, dev: name } }] : [];
  return [...route, ...link.addresses6.map((cidr): GuestOp => ({ kind: 'deleteAddress', name, cidr }))];
}

function dnsFileOps(observed: GuestObserved, configure: GuestConfig, dnsTarget: DnsTarget): GuestOp[] {
  const content = desiredDnsFile(observed, configure, dnsTarget);
  if (!content || dnsTarget.path === undefined || observed.dnsFile?.equals(content)) return [];
  // Android's EthernetService reads ipconfig.txt at boot, before any agent runs; resolv.conf is
  // written again at every attach and checked every 10 s (keeper.ts), so it is not worth a sync on
  // the attach path.
  return [{ kind: 'writeDnsFile', path: dnsTarget.path, content, before: observed.dnsFile, synced: dnsTarget.kind === 'ipconfig' }];
}

/**
 * On Android a DHCP link's entry says DHCP, so that EthernetService's IpClient takes the lease;
 * a DHCP guest elsewhere writes its lease's resolvers once it has one.
 */
function desiredDnsFile(observed: GuestObserved, { link, dns }: GuestConfig, target: DnsTarget): Buffer | undefined {
  if (target.kind === 'none') return undefined;
  if (target.kind === 'ipconfig') {
    if (link.dhcp) return withEntry(observed.dnsFile, { id: link.rename, dhcp: true });
    return withEntry(observed.dnsFile, {
      id: link.rename,
      address: link.address,
      prefixLength: link.prefixLength,
      gateway: link.gateway,
      dns,
    });
  }
  if (link.dhcp) return undefined;
  return dns.length > 0 ? Buffer.from(renderResolvConf(dns)) : undefined;
}

/** What is in force after applying, as read back: the host is told facts, not intentions. */
export function verifiedState(state: IpState, configure: GuestConfig): AppliedState {
  const link = findOurLink(state, configure.token);
  const want = configure.link;
  if (want.dhcp) throw new Error('a DHCP link is verified once its lease is applied');
  const cidr = `${want.address}/${want.prefixLength}`;
  if (!link?.up || !link.addresses.includes(cidr)) throw new Error(`${want.rename} is not up with ${cidr}`);
  if (state.defaultRoute?.gateway !== want.gateway) throw new Error(`no default route via ${want.gateway}`);
  if (want.ipv6) {
    const cidr6 = `${want.ipv6.address}/${want.ipv6.prefixLength}`;
    if (!link.addresses6?.includes(cidr6)) throw new Error(`${want.rename} does not have ${cidr6}`);
    if (state.defaultRoute6?.gateway !== want.ipv6.gateway) throw new Error(`no IPv6 default route via ${want.ipv6.gateway}`);
  } else if (link.addresses6?.length) throw new Error(`${want.rename} still has ${link.addresses6[0]}, which the host took back`);
  const ipv6 = want.ipv6 ? { ipv6: want.ipv6 } : {};
  return {
    name: link.name,
    mtu: link.mtu,
    address: want.address,
    prefixLength: want.prefixLength,
    gateway: want.gateway,
    ...ipv6,
    dns: configure.dns,
  };
}
