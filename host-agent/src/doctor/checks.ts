import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { Runner } from '../exec/runner.js';
import { detectFirewall, firewallNamed } from '../firewall/select.js';
import { defaultRouteInterface } from '../model/host.js';
import { overlaps, parsePool, rangeOf } from '../model/pool.js';
import type { FirewallName } from '../model/names.js';
import type { HostSettings } from '../model/settings.js';
import { mainRoutes } from '../net/links.js';
import { BASE_TOOLS, requireTools } from '../net/tools.js';
import { readRecords } from '../state/store.js';
import { type Check, type Finding, ok } from './finding.js';
import { dhcpGuests } from './dhcp.js';
import { ipv6 } from './ipv6.js';
import { linkType } from './link-type.js';

export type { Check, Finding } from './finding.js';

export const root: Check = async () => [
  process.getuid?.() === 0
    ? ok('root', 'running as root')
    : { check: 'root', status: 'fail', detail: 'not root', fix: 'run host-agent as root (it needs CAP_NET_ADMIN)' },
];

/** The backend the attached guests use; with none attached, the one the next attach would pick. */
async function backend(settings: HostSettings, runner: Runner): Promise<{ name: FirewallName; why: string }> {
  const inUse = (await readRecords(settings.stateDir).catch(() => []))[0]?.firewall;
  if (inUse) return { name: inUse, why: 'in use by the attached guests' };
  if (settings.firewall !== 'auto') return { name: settings.firewall, why: 'configured' };
  return { name: await detectFirewall(runner), why: "detected from where the host's own rules live" };
}

export const tools: Check = async (settings, runner) => {
  const findings: Finding[] = [];
  const { name: chosen, why } = await backend(settings, runner);
  for (const tool of [...BASE_TOOLS, firewallNamed(chosen).tool]) {
    const missing = await requireTools([tool]).then(
      () => undefined,
      (error: Error) => error.message,
    );
    findings.push(
      missing
        ? { check: 'tools', status: 'fail', detail: missing, fix: `apt-get install ${tool.debianPackage}` }
        : ok('tools', `${tool.binary} found`),
    );
  }
  findings.push(ok('firewall backend', `${chosen} (${why}); override with --firewall or "firewall" in the config`));
  return findings;
};

/** Each feature is tried in a brand-new netns of its own, so the host is never touched. */
export const kernel: Check = async (_, runner) => {
  const probes: Array<[string, string[], string | undefined]> = [
    ['veth', ['unshare', '--net', 'ip', 'link', 'add', 'gnprobe0', 'type', 'veth', 'peer', 'name', 'gnprobe1'], undefined],
    [
      'nat and conntrack',
      ['unshare', '--net', 'nft', '-f', '-'],
      'table ip probe {\n' +
        ' chain nat_probe { type nat hook postrouting priority srcnat; masquerade; }\n' +
        ' chain ct_probe { type filter hook forward priority 0; ct state established accept; }\n}\n',
    ],
  ];
  const findings: Finding[] = [];
  for (const [feature, argv, input] of probes) {
    const failure = await runner.perform({ kind: 'run', argv, ...(input === undefined ? {} : { input }) }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    findings.push(
      failure
        ? {
            check: 'kernel',
            status: 'fail',
            detail: `${feature} is not available: ${failure}`,
            fix: `load or build the kernel support for ${feature}`,
          }
        : ok('kernel', `${feature} works`),
    );
  }
  return findings;
};

async function readSysctl(path: string): Promise<string | undefined> {
  return fs.readFile(path, 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
}

export const sysctls: Check = async (settings, runner) => {
  const forward = await readSysctl('/proc/sys/net/ipv4/ip_forward');
  const uplink = settings.uplink ?? defaultRouteInterface(await mainRoutes(runner));
  const rpFilter = uplink ? await readSysctl(`/proc/sys/net/ipv4/conf/${uplink}/rp_filter`) : undefined;
  return [
    ok('ip_forward', forward === '1' ? 'on' : 'off; attach turns it on and the last detach restores it'),
    ok('rp_filter', `${uplink ?? 'uplink'}: ${rpFilter ?? 'unknown'}; strict mode is fine, every guest has its own /32 route`),
  ];
};

type NftItem = {
  chain?: { table: string; family: string; name: string; hook?: string; policy?: string };
  rule?: { table: string; family: string; chain: string; expr?: unknown[] };
};

/** FORWARD drops in iptables-legacy, which nft cannot see. Read only where legacy tables exist. */
async function legacyForwardDrop(runner: Runner, chosen: string): Promise<Finding[]> {
  if ((await fs.readFile('/proc/net/ip_tables_names', 'utf8').catch(() => '')).trim() === '') return [];
  const rules = await runner.read(['iptables-legacy-save', '-t', 'filter']).catch(() => '');
  if (!/^:FORWARD DROP|^-A FORWARD .*-j DROP/m.test(rules)) return [];
  return chosen === 'iptables-legacy'
    ? [ok('forward', "iptables-legacy FORWARD drops, but guestnet's jump at position 1 comes first")]
    : [
        {
          check: 'forward',
          status: 'fail',
          detail: `iptables-legacy FORWARD drops forwarded traffic, and guestnet would use ${chosen}: a split brain`,
          fix: 'use --firewall iptables-legacy (auto picks it when legacy tables hold rules)',
        },
      ];
}

export const forwardDrop: Check = async (settings, runner) => {
  const { name: chosen } = await backend(settings, runner);
  const text = await runner.read(['nft', '-j', 'list', 'ruleset']).catch(() => undefined);
  if (text === undefined) return [{ check: 'forward', status: 'warn', detail: 'could not read the ruleset (nft list ruleset failed)' }];
  const items = (JSON.parse(text) as { nftables: NftItem[] }).nftables;
  const forwardChains = items.flatMap((i) => (i.chain?.hook === 'forward' && i.chain.table !== 'guestnet' ? [i.chain] : []));
  const findings: Finding[] = await legacyForwardDrop(runner, chosen);
  const explain =
    "an accept in guestnet's table cannot override a drop in another table on the same hook: nftables evaluates every base chain, and any drop is final";
  for (const chain of forwardChains) {
    const where = `${chain.family} ${chain.table} ${chain.name}`;
    // iptables-nft's own FORWARD: guestnet's iptables backend jumps in at position 1, ahead of its drops.
    if (
      chosen === 'iptables' &&
      (chain.family === 'ip' || chain.family === 'ip6') &&
      chain.table === 'filter' &&
      chain.name === 'FORWARD'
    ) {
      findings.push(ok('forward', `${where} may drop, but guestnet's jump at position 1 comes first`));
      continue;
    }
    if (chain.policy === 'drop') {
      // An IPv6-only table blocks guests' IPv6, never their IPv4.
      const status = chain.family === 'ip6' ? 'warn' : 'fail';
      findings.push({
        check: 'forward',
        status,
        detail: `${where} has policy drop${status === 'warn' ? " (guests' IPv6 only)" : ''}: ${explain}`,
        fix:
          `accept vm_wlan* there, e.g. nft insert rule ${where} iifname "vm_wlan*" accept` +
          ' and oifname "vm_wlan*" ct state established,related accept (Docker: the DOCKER-USER chain)',
      });
    }
    const drops = items.filter(
      (i) => i.rule && i.rule.table === chain.table && i.rule.chain === chain.name && JSON.stringify(i.rule.expr ?? []).includes('"drop"'),
    );
    if (drops.length > 0 && chain.policy !== 'drop') {
      findings.push({
        check: 'forward',
        status: 'warn',
        detail: `${where} has ${drops.length} drop rule(s) that may match guest traffic: ${explain}`,
        fix: `check that they spare vm_wlan*`,
      });
    }
  }
  return findings.length > 0 ? findings : [ok('forward', 'no other firewall drops forwarded traffic')];
};

export const uplink: Check = async (settings, runner) => {
  const found = settings.uplink ?? defaultRouteInterface(await mainRoutes(runner));
  return [
    found
      ? ok('uplink', `${found}${settings.uplink ? ' (configured)' : ' (default route)'}`)
      : {
          check: 'uplink',
          status: 'fail',
          detail: 'no IPv4 default route, and no uplink configured',
          fix: 'bring the uplink up, or give --uplink IF / "uplink" in the config',
        },
  ];
};

export const subnet: Check = async (settings, runner) => {
  const pool = parsePool(settings.pool);
  const ours = /^vm_wlan\d*$/;
  const clashes = (await mainRoutes(runner)).filter((route) => {
    if (route.dst === 'default' || route.dev.startsWith(settings.hostIfPrefix) || ours.test(route.dev)) return false;
    return overlaps(pool, rangeOf(route.dst));
  });
  if (clashes.length === 0) return [ok('subnet', `${settings.pool} clashes with no host route`)];
  return clashes.map((route) => ({
    check: 'subnet',
    status: 'fail' as const,
    detail: `the guest pool ${settings.pool} overlaps the host route ${route.dst} dev ${route.dev}`,
    fix: 'set another "pool" (and "gateway") in the config, e.g. 10.203.0.0/16',
  }));
};

async function mode(path: string): Promise<{ mode: number; uid: number } | undefined> {
  return fs.stat(path).then(
    (s) => ({ mode: s.mode & 0o777, uid: s.uid }),
    () => undefined,
  );
}

export const permissions: Check = async (settings) => {
  const findings: Finding[] = [];
  for (const [what, dir] of [
    ['state dir', settings.stateDir],
    ['socket dir', dirname(settings.socket)],
  ] as const) {
    const found = await mode(dir);
    if (!found) findings.push(ok('permissions', `${what} ${dir} does not exist yet; it will be created 0700`));
    else if (found.uid !== 0 || (found.mode & 0o077) !== 0) {
      findings.push({
        check: 'permissions',
        status: 'fail',
        detail: `${what} ${dir} is mode ${found.mode.toString(8)} owned by uid ${found.uid}`,
        fix: `chown root ${dir} && chmod 700 ${dir}`,
      });
    } else findings.push(ok('permissions', `${what} ${dir} is root-only`));
  }
  const socket = await mode(settings.socket);
  if (socket && (socket.mode & 0o077) !== 0) {
    findings.push({
      check: 'permissions',
      status: 'fail',
      detail: `socket ${settings.socket} is mode ${socket.mode.toString(8)}`,
      fix: `chmod 600 ${settings.socket}`,
    });
  }
  return findings;
};

/** Whether something in this netns listens on port 53 of every address, in /proc/net/<file> (udp or udp6). */
async function wildcardDns(file: string, any: RegExp): Promise<boolean> {
  const table = await fs.readFile(`/proc/net/${file}`, 'utf8').catch(() => '');
  return table.split('\n').some((line) => any.test(line.trim().split(/\s+/)[1] ?? ''));
}

// A dnsmasq or resolver bound to 0.0.0.0:53 (or [::]:53) keeps the daemon's
// forwarder off the guests' gateway, and guests then have no DNS.
export const dns: Check = async (settings) => {
  if (settings.dns !== undefined) return [ok('dns', `guests get the fixed resolvers ${settings.dns.join(' ')}`)];
  const taken = (await wildcardDns('udp', /^00000000:0035$/)) || (await wildcardDns('udp6', /^0{32}:0035$/));
  if (!taken) return [ok('dns', `port 53 is free on ${settings.gateway}: the daemon serves guests DNS there`)];
  return [
    {
      check: 'dns',
      status: 'warn',
      detail:
        'something listens for DNS on every address (port 53), ' +
        `so the daemon's forwarder cannot take ${settings.gateway}: guests of a daemon would have no DNS`,
      fix:
        `make it listen on its own interfaces only (dnsmasq: bind-interfaces, except-interface=${settings.hostIfPrefix}*), ` +
        'or give guests fixed resolvers with --dns',
    },
  ];
};

export const ALL_CHECKS: Check[] = [
  root,
  tools,
  kernel,
  sysctls,
  forwardDrop,
  uplink,
  subnet,
  permissions,
  dns,
  ipv6,
  linkType,
  dhcpGuests,
];
