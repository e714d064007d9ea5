import type { PortForward } from '../model/port-forward.js';
import type { FirewallContent } from '../model/rules.js';
import type { Step } from '../model/step.js';

// Connections from the host to 127.0.0.1 reach a published port as Docker's
// and CNI portmap's do: DNAT in the output chain sends them to the guest's
// link with a loopback source, which the kernel routes (and lets replies
// come back) only where the link has route_localnet, and the source is then
// masqueraded to the gateway, so the guest answers its gateway. Only the
// links of guests that take such connections get it, set before their rules
// and cleared after them; the setting goes with its link.

export const LOOPBACK4 = '127.0.0.0/8';

/** Whether a forward takes connections to a loopback address: unbound, or bound to one. */
export const onLoopback = (f: PortForward) => f.hostAddress === undefined || f.hostAddress.startsWith('127.');

const routeLocalnet = (hostIf: string, value: '0' | '1'): Step => ({
  kind: 'sysctl',
  path: `/proc/sys/net/ipv4/conf/${hostIf}/route_localnet`,
  value,
  ifPresent: true,
});

const linksOf = (content: FirewallContent) =>
  new Set(content.installed ? content.guests.filter((g) => g.forwards.some(onLoopback)).map((g) => g.hostIf) : []);

/** A firewall change with route_localnet set on the links that come to need it first, and cleared on those that no longer do last. */
export function withLocalnet(before: FirewallContent, after: FirewallContent, rules: Step[]): Step[] {
  const [was, now] = [linksOf(before), linksOf(after)];
  return [
    ...[...now].filter((l) => !was.has(l)).map((l) => routeLocalnet(l, '1')),
    ...rules,
    ...[...was].filter((l) => !now.has(l)).map((l) => routeLocalnet(l, '0')),
  ];
}
