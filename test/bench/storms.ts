import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { callDaemon, parseControlRequest, resolveSettings } from '@guestnet/host-agent';
import { type Daemon, DNS, type Guest, NODE, type Sandbox } from '../fixtures/sandbox.js';
import { CpuGroup, treeOf } from './cgroup.js';
import { startProbe } from './probe.js';
import { type Client, prepareLaunch } from './launch.js';
import { median, must } from './measure.js';
import type { StormFigure } from './report.js';
import { cni, daemonAttach, daemonDetach, GUEST_BUNDLE, HOST_BUNDLE, ptpConfig } from './systems.js';

// Tens of guests started at once, as on a host that just rebooted: each
// system's storm timed from its first launch until every guest got an answer
// from the sandbox server, and the CPU of all it ran counted by a cgroup of
// its own (cgroup.ts). The systems take turns, round by round.

/**
 * cni-ptp: a CNI ptp ADD per guest (host-local, ipMasq), no daemon running.
 * guestnet-cli: `host-agent attach <pid>` per guest beside a running daemon,
 * each guest running its agent. guestnet-cni: the guestnet CNI plugin's ADD
 * per guest, in the state dir that daemon serves. guestnet-one-request: one
 * control request naming every guest, sent by a client already running.
 */
export const STORM_SYSTEMS = ['cni-ptp', 'guestnet-cli', 'guestnet-cni', 'guestnet-one-request'] as const;
export type StormSystem = (typeof STORM_SYSTEMS)[number];

const CNI_BUNDLE = join(dirname(HOST_BUNDLE), 'guestnet');
const GUESTNET_CNI = { cniVersion: '1.0.0', name: 'bench', type: 'guestnet', dns: { nameservers: [DNS] } };
const withAgent = (system: StormSystem) => system === 'guestnet-cli' || system === 'guestnet-one-request';

/** Where a storm's CPU is counted: the clients started, the daemon, the guests (their agents), each with all it ran. */
const PARTS = ['clients', 'daemon', 'guests'] as const;
type Part = (typeof PARTS)[number];
type Group = CpuGroup<Part>;

interface StormRun {
  wallMs: number;
  cpuS: number;
  cpuParts: Record<Part, number>;
  probeCpuS: number;
}

const inHost = (sandbox: Sandbox, argv: string[]) => ['ip', 'netns', 'exec', sandbox.hostNs, ...argv];

function cniClient(sandbox: Sandbox, command: 'ADD' | 'DEL', pid: number, plugin: string, config: object, env: string[] = []): Client {
  const vars = [`CNI_COMMAND=${command}`, `CNI_CONTAINERID=storm${pid}`, `CNI_NETNS=/proc/${pid}/ns/net`, 'CNI_IFNAME=eth0'];
  return {
    argv: inHost(sandbox, ['env', ...vars, 'CNI_PATH=/usr/lib/cni', ...env, plugin]),
    input: JSON.stringify({ cniVersion: '1.0.0', name: 'bench', ...config }),
  };
}

function clientOf(sandbox: Sandbox, system: Exclude<StormSystem, 'guestnet-one-request'>, pid: number): Client {
  if (system === 'cni-ptp') return cniClient(sandbox, 'ADD', pid, '/usr/lib/cni/ptp', ptpConfig(sandbox));
  if (system === 'guestnet-cni')
    return cniClient(sandbox, 'ADD', pid, CNI_BUNDLE, GUESTNET_CNI, [`GUESTNET_STATE_DIR=${sandbox.stateDir}`]);
  const flags = ['--socket', sandbox.socket, '--state-dir', sandbox.stateDir, '--dns', DNS];
  return { argv: inHost(sandbox, [NODE, HOST_BUNDLE, 'attach', String(pid), ...flags]) };
}

/**
 * The request that attaches every guest of `pids` at once, as the daemon's
 * own parser reads it; undefined while the daemon takes no such request. The
 * shape is the one the control socket is to take: where it lands otherwise,
 * this is the one place to change.
 */
export function oneRequestFor(sandbox: Sandbox, pids: number[]): ReturnType<typeof parseControlRequest> | undefined {
  const settings = resolveSettings({}, { stateDir: sandbox.stateDir, socket: sandbox.socket, dns: DNS }, 'bench');
  try {
    return parseControlRequest({ type: 'attach', pids, settings: { ...settings }, wait: true });
  } catch {
    return undefined;
  }
}

/** Undoes what the storm attached: ptp's DELs, or guestnet's detach of all (CNI's attachments are in the same state dir). */
async function undo(sandbox: Sandbox, system: StormSystem, guests: Guest[], dir: string): Promise<void> {
  if (system === 'cni-ptp') {
    const dels = guests.map((g) => cniClient(sandbox, 'DEL', g.pid, '/usr/lib/cni/ptp', ptpConfig(sandbox)));
    const failed = (await (await prepareLaunch(join(dir, 'undo'), dels))()).filter((r) => r.exitCode !== 0);
    if (failed.length > 0) throw new Error(`ptp DEL: ${failed[0]?.stdout}`);
  } else await callDaemon(sandbox.stateDir, { type: 'detachAll' }, 120_000);
}

interface Host {
  sandbox: Sandbox;
  /** The host as it was before the storms: each must leave it so. */
  baseline: string;
  daemon?: Daemon;
}

/** One storm of `n` guests; undefined when the daemon takes no request for many guests. */
async function storm(host: Host, system: StormSystem, n: number, round: number): Promise<StormRun | undefined> {
  const { sandbox, daemon } = host;
  if (system === 'guestnet-one-request' && !oneRequestFor(sandbox, [process.pid])) return undefined;
  const dir = join(sandbox.dir, `storm-${system}-${round}`);
  await mkdir(join(dir, 'undo'), { recursive: true });
  const group = await CpuGroup.create(system, PARTS);
  const guests: Guest[] = [];
  const cleanUp = async () => {
    await undo(sandbox, system, guests, dir);
    await Promise.all(guests.map((g) => g.kill()));
  };
  try {
    for (let i = 0; i < n; i++) guests.push(await sandbox.startGuest(withAgent(system) ? { agentScript: GUEST_BUNDLE } : { agent: false }));
    const run = await measure(sandbox, system, guests, group, dir, daemon);
    await cleanUp();
    await leftBehind(host, group);
    return run;
  } catch (error) {
    await cleanUp().catch(() => {});
    throw error;
  } finally {
    await group.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A launch of one client per guest, each failure thrown. */
async function launcher(sandbox: Sandbox, system: StormSystem, pids: number[], group: Group, dir: string) {
  const clients = pids.map((pid) => clientOf(sandbox, system as Exclude<StormSystem, 'guestnet-one-request'>, pid));
  const launch = await prepareLaunch(dir, clients, group.procsFile('clients'));
  return async (attached: (pid: number) => void) => {
    const failed = (await launch((i) => attached(pids[i] as number))).find((client) => client.exitCode !== 0);
    if (failed) throw new Error(`${system} client exited ${failed.exitCode}: ${failed.stdout.trim()}`);
  };
}

async function measure(sandbox: Sandbox, system: StormSystem, guests: Guest[], group: Group, dir: string, daemon?: Daemon) {
  const pids = guests.map((g) => g.pid);
  await group.adopt('guests', pids);
  if (daemon) await group.adopt('daemon', [daemon.pid]);
  await group.settle(60_000);
  const request = oneRequestFor(sandbox, pids);
  const go =
    system === 'guestnet-one-request' && request
      ? async (attached: (...pids: number[]) => void) => {
          if (!(await callDaemon(sandbox.stateDir, request, 300_000)).served) throw new Error('no daemon');
          attached(...pids);
        }
      : await launcher(sandbox, system, pids, group, dir);
  const probe = await startProbe(pids);
  try {
    const usage = () => Promise.all(PARTS.map((part) => group.usageUs(part)));
    const before = await usage();
    const launched = process.hrtime.bigint();
    const [, seen] = await Promise.all([go(probe.attached), probe.seen()]);
    const wallMs = Math.max(...seen.online.map((at) => Number(at - launched) / 1e6));
    // What the daemon and the agents still do for the storm counts too.
    await group.settle(10_000);
    const after = await usage();
    const cpu = (i: number) => Math.round(((after[i] as number) - (before[i] as number)) / 1000) / 1000;
    const cpuParts = Object.fromEntries(PARTS.map((part, i) => [part, cpu(i)])) as Record<Part, number>;
    return {
      wallMs: Math.round(wallMs * 10) / 10,
      cpuS: Math.round(PARTS.reduce((sum, _, i) => sum + cpu(i), 0) * 1000) / 1000,
      cpuParts,
      probeCpuS: seen.cpuS,
    };
  } finally {
    await probe.stop();
  }
}

/** Fails when a storm left anything: a process of it (the daemon aside), an attachment, or any change to the host. */
async function leftBehind(host: Host, group: Group): Promise<void> {
  let stray: number[] = [];
  for (let i = 0; i < 50; i++) {
    // The daemon's own children come and go (its kept `ip`): looked at again each time.
    const daemon = host.daemon ? await treeOf(host.daemon.pid) : [];
    stray = (await group.pids()).filter((pid) => !daemon.includes(pid));
    if (stray.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (stray.length > 0) throw new Error(`the storm left processes running: ${stray.join(', ')}`);
  const records = await readdir(join(host.sandbox.stateDir, 'attachments')).catch(() => []);
  if (records.some((f) => f.endsWith('.json'))) throw new Error(`the storm left attachments: ${records.join(', ')}`);
  const now = await host.sandbox.hostSnapshot();
  if (now !== host.baseline) {
    const [was, is] = [host.baseline.split('\n'), now.split('\n')];
    const changed = [
      ...was.filter((l) => !is.includes(l)).map((l) => `- ${l}`),
      ...is.filter((l) => !was.includes(l)).map((l) => `+ ${l}`),
    ];
    throw new Error(`the storm left the host changed:\n${changed.slice(0, 20).join('\n')}`);
  }
}

/**
 * `rounds` rounds of a storm of `n` guests per system, in turn: cni-ptp with
 * no daemon, then a daemon started (and warmed by one attach, as in the
 * attach series) for the guestnet systems, stopped at the round's end.
 */
export async function benchStorms(sandbox: Sandbox, rounds: number, n: number): Promise<StormFigure[]> {
  const runs = new Map<StormSystem, StormRun[]>(STORM_SYSTEMS.map((s) => [s, []]));
  const supported = new Map<StormSystem, boolean>(STORM_SYSTEMS.map((s) => [s, true]));
  // The first ptp attach leaves ip_forward on and an empty iptables-nft nat table behind, and
  // the first guestnet attach with iptables empty built-in chains: each storm must leave the
  // host as it was after one attach and detach of both.
  const bare = await sandbox.startGuest({ agent: false });
  await must('ptp ADD', await cni(sandbox, 'ADD', `w${bare.pid}`, bare.pid, ptpConfig(sandbox)));
  await must('ptp DEL', await cni(sandbox, 'DEL', `w${bare.pid}`, bare.pid, ptpConfig(sandbox)));
  await bare.kill();
  await (await warmDaemon(sandbox)).stop();
  const host: Host = { sandbox, baseline: await sandbox.hostSnapshot() };
  for (let round = 0; round < rounds; round++) {
    for (const system of STORM_SYSTEMS) {
      if (system !== 'cni-ptp' && !host.daemon) host.daemon = await warmDaemon(sandbox);
      const run = await storm(host, system, n, round);
      if (run) runs.get(system)?.push(run);
      else supported.set(system, false);
    }
    await host.daemon?.stop();
    host.daemon = undefined;
    process.stderr.write(`storm round ${round + 1}/${rounds}\n`);
  }
  const ptp = runs.get('cni-ptp') ?? [];
  return STORM_SYSTEMS.map((system) => {
    const xs = runs.get(system) ?? [];
    if (!supported.get(system)) return { system, guests: n, runs: 0, supported: false };
    // Ratios round by round: each round's storms ran minutes apart at most, so drift cancels out of them.
    const over = (pick: (r: StormRun) => number) => median(xs.map((r, i) => pick(r) / pick(ptp[i] as StormRun)));
    return {
      system,
      guests: n,
      runs: xs.length,
      supported: true,
      wall_ms: median(xs.map((r) => r.wallMs)),
      cpu_s: median(xs.map((r) => r.cpuS)),
      wall_vs_ptp: Math.round(over((r) => r.wallMs) * 100) / 100,
      cpu_vs_ptp: Math.round(over((r) => r.cpuS) * 100) / 100,
      wall_ms_runs: xs.map((r) => r.wallMs),
      cpu_s_runs: xs.map((r) => r.cpuS),
      cpu_parts_s: Object.fromEntries(PARTS.map((part) => [part, median(xs.map((r) => r.cpuParts[part]))])),
      probe_cpu_s: median(xs.map((r) => r.probeCpuS)),
    };
  });
}

/** A daemon that has attached and detached one guest: a storm meets a daemon that has served before. */
async function warmDaemon(sandbox: Sandbox): Promise<Daemon> {
  const daemon = await sandbox.startDaemon([], HOST_BUNDLE);
  const guest = await sandbox.startGuest({ agentScript: GUEST_BUNDLE });
  await daemonAttach(sandbox, guest.pid, true);
  await daemonDetach(sandbox, guest.pid);
  await guest.kill();
  return daemon;
}
