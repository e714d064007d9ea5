import type { FirewallState, GuestRule, HostObserved, Op } from '@guestnet/host-agent';

export function firewallWith(rules: GuestRule[], installed = rules.length > 0): FirewallState {
  const key = (r: GuestRule) => JSON.stringify([r.hostIf, r.guestAddress, r.uplink, r.openToGuests, r.forwards]);
  const keys = new Set(rules.map(key));
  return { installed, has: (rule) => keys.has(key(rule)), hasPort: () => installed };
}

export const emptyHost = (): HostObserved => ({
  links: new Set(['lo', 'wlan0']),
  aliases: new Map(),
  mtus: new Map([
    ['lo', 65536],
    ['wlan0', 1500],
  ]),
  groups: new Map([
    ['lo', 0],
    ['wlan0', 0],
  ]),
  routes: [
    { dst: 'default', dev: 'wlan0' },
    { dst: '198.51.100.0/24', dev: 'wlan0' },
  ],
  ipForward: '0',
  ipForwardBefore: undefined,
  records: [],
  firewall: firewallWith([]),
  policy: { defaults: [{ dev: 'wlan0', table: 'main' }], rules: [], localNetwork: new Set() },
});

/** What the kernel and the state dir would look like after `ops`: a model for "plan after apply is empty". */
export function simulate(host: HostObserved, ops: Op[], rulesBefore: GuestRule[] = []): { host: HostObserved; rules: GuestRule[] } {
  const links = new Set(host.links);
  const aliases = new Map(host.aliases);
  const mtus = new Map(host.mtus);
  const groups = new Map(host.groups);
  let routes = [...host.routes];
  let { ipForward, ipForwardBefore, records } = host;
  let rules = [...rulesBefore];
  let installed = host.firewall.installed;
  let rulesIp = [...host.policy.rules];
  const localNetwork = new Set(host.policy.localNetwork);
  for (const op of ops) {
    switch (op.kind) {
      case 'writeRecord':
        records = [...records, op.record];
        break;
      case 'deleteRecord':
        records = records.filter((r) => r.id !== op.id);
        break;
      case 'createVeth':
      case 'createVeths':
        for (const record of op.kind === 'createVeth' ? [op.record] : op.records) {
          links.add(record.hostIf);
          mtus.set(record.hostIf, record.mtu);
          groups.set(record.hostIf, record.tagged ? 26478 : 0);
          if (record.tagged) aliases.set(record.hostIf, `guestnet-host:${record.id}`);
          if (record.guestAddress !== undefined) routes = [...routes, { dst: record.guestAddress, dev: record.hostIf }];
        }
        break;
      case 'deleteLink':
      case 'deleteLinks':
        for (const name of op.kind === 'deleteLink' ? [op.name] : op.names) {
          links.delete(name);
          aliases.delete(name);
          mtus.delete(name);
          groups.delete(name);
          routes = routes.filter((r) => r.dev !== name);
        }
        break;
      case 'enableIpForward':
        ipForward = '1';
        ipForwardBefore = op.before;
        break;
      case 'restoreIpForward':
        ipForward = op.value;
        ipForwardBefore = undefined;
        break;
      case 'setGuestRules':
        rules = [...op.after.guests];
        installed = op.after.installed;
        break;
      case 'updateRecords':
        records = records.map((r) => op.after.find((a) => a.id === r.id) ?? r);
        break;
      case 'setLinkMtu':
        mtus.set(op.record.hostIf, op.mtu);
        break;
      case 'addPolicyRoute':
        rulesIp = [
          ...rulesIp.filter((r) => r.iif !== op.route.hostIf),
          { priority: 21000, iif: op.route.hostIf, table: String(op.route.table) },
        ];
        localNetwork.add(`${op.route.guestAddress} ${op.route.hostIf}`);
        break;
      case 'removePolicyRoute':
        rulesIp = rulesIp.filter((r) => r.iif !== op.route.hostIf);
        localNetwork.delete(`${op.route.guestAddress} ${op.route.hostIf}`);
        break;
    }
  }
  const policy = { ...host.policy, rules: rulesIp, localNetwork };
  return {
    host: { links, aliases, mtus, groups, routes, ipForward, ipForwardBefore, records, firewall: firewallWith(rules, installed), policy },
    rules,
  };
}
