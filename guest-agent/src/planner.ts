import { type Configure, NameTakenError } from '@guestnet/protocol';
import type { GuestObserved } from './observe.js';
import type { GuestOp } from './ops.js';

// Where the kernel's own default rule for main sits.
const MAIN_RULE_PRIORITY = 32766;

export function renderResolvConf(servers: string[]): string {
  return `# written by guestnet guest-agent\n${servers.map((s) => `nameserver ${s}`).join('\n')}\n`;
}

/** The link the host created for us: only it carries our attach token as its alias. */
export function findOurLink(observed: GuestObserved, token: string) {
  return observed.links.find((link) => link.alias === token);
}

/** Ops from `observed` to what `configure` asks for. Empty when it is already in place. */
export function planGuest(observed: GuestObserved, configure: Configure, resolvConfPath: string): GuestOp[] {
  const { link: want, dns } = configure;
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
  if (link.mtu !== want.mtu) ops.push({ kind: 'setMtu', name, mtu: want.mtu, before: link.mtu });
  const cidr = `${want.address}/${want.prefixLength}`;
  if (!link.addresses.includes(cidr)) ops.push({ kind: 'addAddress', name, cidr });
  if (!link.up || renamed) ops.push({ kind: 'linkUp', name });
  const route = observed.defaultRoute;
  if (route?.gateway !== want.gateway || route.dev !== name) {
    ops.push({ kind: 'setDefaultRoute', gateway: want.gateway, dev: name, before: route });
  }
  if (observed.mainRulePriority === undefined) {
    // An Android guest's netd flushes the rules and leaves none that reads main,
    // where our default route lives; consult main just before its catch-all.
    ops.push({ kind: 'addMainRule', priority: Math.min(MAIN_RULE_PRIORITY, (observed.terminalRulePriority ?? MAIN_RULE_PRIORITY + 1) - 1) });
  }
  if (dns.length > 0) {
    const content = renderResolvConf(dns);
    if (observed.resolvConf !== content) {
      ops.push({ kind: 'writeResolvConf', path: resolvConfPath, content, before: observed.resolvConf });
    }
  }
  return ops;
}
