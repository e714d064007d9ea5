// `npm run bench [-- --quick]`: guestnet beside the alternatives users have, on
// one sandbox in one run, so the figures are ratios that survive a noisy
// machine. Writes a markdown table to stdout and test/bench/results/latest.json.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callDaemon, resolveSettings } from '@guestnet/host-agent';
import { execa } from 'execa';
import { type Guest, Sandbox, SERVER, UPLINK } from '../fixtures/sandbox.js';

// --smoke: one of everything, for CI, which checks that the benchmark runs and never reads its times.
const smoke = process.argv.includes('--smoke');
const quick = smoke || process.argv.includes('--quick');
const RUNS = smoke ? 1 : quick ? 5 : 20;
const SCALE_POINTS = smoke ? [1, 3] : quick ? [1, 100] : [1, 50, 200, 500];
// Attach N is the median of attaches N-2 to N+2: one attach is one noisy sample.
// Attach 1, the first on an empty host, happens once.
const around = (n: number) => (n === 1 ? [1] : [n - 2, n - 1, n, n + 1, n + 2]);
const SCALE_LAST = Math.max(...SCALE_POINTS.flatMap(around));

/** The scale points of one series, from `times[i]`, the time of attach i + 1. */
function scalePoints(system: string, times: number[]): Array<{ system: string; guest: number; ms: number }> {
  return SCALE_POINTS.map((guest) => ({ system, guest, ms: median(around(guest).map((n) => times[n - 1] ?? NaN)) }));
}
const outAt = process.argv.indexOf('--out');
const RESULTS = outAt > 0 ? (process.argv[outAt + 1] as string) : fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));
const PTP = '/usr/lib/cni/ptp';
// What deploy/ ships and runs: the bundles, built fresh at the start.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HOST_BUNDLE = join(ROOT, 'deploy/dist/host-agent.cjs');
const GUEST_BUNDLE = join(ROOT, 'deploy/dist/guest-agent.cjs');

const ms = (started: number) => Math.round((performance.now() - started) * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)] ?? NaN;

async function must(what: string, result: { exitCode: number; stderr: string }): Promise<void> {
  if (result.exitCode !== 0) throw new Error(`${what}: ${result.stderr.trim()}`);
}

/** Polls with a cheap TCP connect from the guest (bash /dev/tcp) until one succeeds. */
async function untilOnline(guest: Guest): Promise<void> {
  const probe = ['timeout', '1', 'bash', '-c', `exec 3<>/dev/tcp/${SERVER.address}/${SERVER.port}`];
  for (let i = 0; i < 500; i++) {
    if ((await guest.exec(probe)).exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the guest did not come online within 5 s');
}

/** And the server saw the uplink's address: NAT, not just a route. */
async function online(sandbox: Sandbox, guest: Guest): Promise<void> {
  const fetched = await sandbox.fetchFromGuest(guest);
  const seen = fetched.stdout.trim();
  if (seen !== UPLINK.hostAddress) throw new Error(`the server saw '${seen}', not the uplink ${UPLINK.hostAddress}: ${fetched.stderr.trim()}`);
}

// The design's own sequence (seeds/001), one process per command as the original does.
const seedHost = (pid: number) => `set -e
ip link add name vm_wlan type veth peer name vm_wlan0
ip addr add 172.17.3.2/16 dev vm_wlan
ip link set vm_wlan up
echo 1 > /proc/sys/net/ipv4/ip_forward
iptables -t nat -A POSTROUTING -s 172.17.0.0/16 -o wlan0 -j MASQUERADE
iptables -t filter -A FORWARD -i wlan0 -o vm_wlan -j ACCEPT
iptables -t filter -A FORWARD -o wlan0 -i vm_wlan -j ACCEPT
ip link set vm_wlan0 netns ${pid}
nsenter -t ${pid} -n ip link set vm_wlan0 name wlan0
nsenter -t ${pid} -n ip addr add 172.17.3.3/16 dev wlan0
nsenter -t ${pid} -n ip link set wlan0 up
nsenter -t ${pid} -n ip route add default via 172.17.3.2
`;
const seedUndo = `ip link del vm_wlan 2>/dev/null || true
iptables -t nat -D POSTROUTING -s 172.17.0.0/16 -o wlan0 -j MASQUERADE
iptables -t filter -D FORWARD -i wlan0 -o vm_wlan -j ACCEPT
iptables -t filter -D FORWARD -o wlan0 -i vm_wlan -j ACCEPT
echo 0 > /proc/sys/net/ipv4/ip_forward
`;

function ptpConfig(dataDir: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'bench',
    type: 'ptp',
    ipMasq: true,
    ipam: { type: 'host-local', subnet: '10.199.0.0/16', dataDir, routes: [{ dst: '0.0.0.0/0' }] },
  });
}

function cni(sandbox: Sandbox, command: 'ADD' | 'DEL', id: string, pid: number) {
  const env = [`CNI_COMMAND=${command}`, `CNI_CONTAINERID=${id}`, `CNI_NETNS=/proc/${pid}/ns/net`, 'CNI_IFNAME=eth0', 'CNI_PATH=/usr/lib/cni'];
  return sandbox.host(['env', ...env, PTP], ptpConfig(join(sandbox.dir, 'cni')));
}

async function daemonAttach(sandbox: Sandbox, pid: number, wait: boolean): Promise<void> {
  const settings = resolveSettings({}, { stateDir: sandbox.stateDir, socket: sandbox.socket, dns: '192.0.2.53' }, 'bench');
  const reply = await callDaemon(sandbox.stateDir, { type: 'attach', pid, settings: { ...settings }, wait }, 60_000);
  if (!reply.served) throw new Error('no daemon');
}

async function daemonDetach(sandbox: Sandbox, pid: number): Promise<void> {
  await callDaemon(sandbox.stateDir, { type: 'detach', pid }, 60_000);
}

/**
 * guestnet-cli is `host-agent attach` as the launcher runs it, beside a
 * running daemon (the deployed shape: the CLI hands the attach to it);
 * guestnet-cli-standalone is the same command with no daemon, doing it all.
 */
type System = 'seed-script' | 'cni-ptp' | 'guestnet-cli-standalone' | 'guestnet-daemon' | 'guestnet-cli';

/** One attach of a fresh guest until it is online, timed; everything is undone afterwards. */
async function attachOnce(sandbox: Sandbox, system: System): Promise<number> {
  const agent = system.startsWith('guestnet');
  const guest = await sandbox.startGuest(agent ? { agentScript: GUEST_BUNDLE } : { agent: false });
  await new Promise((r) => setTimeout(r, agent ? 400 : 50));
  const started = performance.now();
  if (system === 'seed-script') await must('seed script', await sandbox.host(['sh', '-c', seedHost(guest.pid)]));
  else if (system === 'cni-ptp') await must('ptp ADD', await cni(sandbox, 'ADD', `g${guest.pid}`, guest.pid));
  else if (system === 'guestnet-daemon') await daemonAttach(sandbox, guest.pid, true);
  else await must('attach', await sandbox.hostAgent(['attach', String(guest.pid)], HOST_BUNDLE));
  await untilOnline(guest);
  const took = ms(started);
  await online(sandbox, guest).catch((error: Error) => {
    throw new Error(`${system}: ${error.message}`);
  });
  if (system === 'seed-script') await sandbox.host(['sh', '-c', seedUndo]);
  else if (system === 'cni-ptp') await cni(sandbox, 'DEL', `g${guest.pid}`, guest.pid);
  else if (system === 'guestnet-daemon') await daemonDetach(sandbox, guest.pid);
  else await sandbox.hostAgent(['detach', String(guest.pid)], HOST_BUNDLE);
  await guest.kill();
  return took;
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/** The median of 5 readings a second apart: RSS moves with each garbage collection. */
async function steadyRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < (smoke ? 1 : 5); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1000));
    readings.push(await rss(pid));
  }
  return median(readings);
}

/**
 * Guest-to-internet and host-to-internet TCP throughput (Gbit/s), sampled in
 * alternating pairs. The ratio is the median of the pairs' ratios: each pair
 * ran back to back, so the machine's drift cancels out of it.
 */
async function throughput(sandbox: Sandbox, guest: Guest): Promise<{ guest: number; host: number; ratio: number }> {
  const sample = async (prefix: string[]) => {
    const server = execa('ip', ['netns', 'exec', sandbox.inetNs, 'iperf3', '-s', '-1', '-B', SERVER.address], { reject: false });
    await new Promise((r) => setTimeout(r, 200));
    const client = await execa(prefix[0] as string, [...prefix.slice(1), 'iperf3', '-c', SERVER.address, '-t', smoke ? '1' : '3', '-J'], { reject: false });
    await server;
    return (JSON.parse(client.stdout).end?.sum_received?.bits_per_second ?? 0) / 1e9;
  };
  const samples = { guest: [] as number[], host: [] as number[], ratio: [] as number[] };
  for (let i = 0; i < (smoke ? 1 : quick ? 3 : 5); i++) {
    const host = await sample(['ip', 'netns', 'exec', sandbox.hostNs]);
    const fromGuest = await sample(['nsenter', `--net=/proc/${guest.pid}/ns/net`]);
    samples.host.push(host);
    samples.guest.push(fromGuest);
    samples.ratio.push(fromGuest / host);
  }
  return { guest: median(samples.guest), host: median(samples.host), ratio: median(samples.ratio) };
}

async function startupMs(argv: string[]): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await execa(process.execPath, argv);
    xs.push(ms(t));
  }
  return median(xs);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark builds network namespaces: run it as root');
  await execa('node', [join(ROOT, 'scripts/bundle.mjs')]);
  const results = {
    attach: [] as Array<{ system: System; median_ms: number; p95_ms: number; runs: number }>,
    scale: [] as Array<{ system: string; guest: number; ms: number }>,
    detachAll: [] as Array<{ system: string; guests: number; ms: number }>,
    throughput: [] as Array<{ guests: number; guest_gbps: number; host_gbps: number; ratio: number }>,
    footprint: [] as Array<{ what: string; rss_mb: number }>,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? '',
      memory_gb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      quick,
      node_bare_ms: await startupMs(['-e', '0']),
      cli_help_ms: await startupMs([HOST_BUNDLE, '--help']),
    },
  };

  const sandbox = await Sandbox.create('nftables');
  try {
    // Attach latency, the systems interleaved run by run so drift hits all alike.
    // The standalone CLI needs no daemon (it would hand over to one). The
    // daemon is a long-running service: each run's gets one untimed attach
    // first, so its start-up is not counted as an attach.
    const systems: System[] = ['seed-script', 'cni-ptp', 'guestnet-cli-standalone', 'guestnet-daemon', 'guestnet-cli'];
    const times = new Map<System, number[]>(systems.map((s) => [s, []]));
    for (let run = 0; run < RUNS; run++) {
      for (const system of systems.slice(0, 3)) times.get(system)?.push(await attachOnce(sandbox, system));
      const daemon = await sandbox.startDaemon([], HOST_BUNDLE);
      await attachOnce(sandbox, 'guestnet-daemon');
      for (const system of systems.slice(3)) times.get(system)?.push(await attachOnce(sandbox, system));
      await daemon.stop();
      process.stderr.write(`attach run ${run + 1}/${RUNS}\n`);
    }
    for (const [system, xs] of times) results.attach.push({ system, median_ms: median(xs), p95_ms: p95(xs), runs: xs.length });

    // Scale: the host-side cost of attach number N, bare guests (no agent, --no-wait).
    const daemon = await sandbox.startDaemon([], HOST_BUNDLE);
    results.footprint.push({ what: 'daemon, idle', rss_mb: await steadyRss(daemon.pid) });
    const warmUp = await sandbox.startGuest({ agent: false });
    await daemonAttach(sandbox, warmUp.pid, false);
    await daemonDetach(sandbox, warmUp.pid);
    await warmUp.kill();
    const guests: Guest[] = [];
    const daemonTimes: number[] = [];
    for (let i = 1; i <= SCALE_LAST; i++) {
      const guest = await sandbox.startGuest({ agent: false });
      guests.push(guest);
      const t = performance.now();
      await daemonAttach(sandbox, guest.pid, false);
      daemonTimes.push(ms(t));
      if (i === Math.min(200, SCALE_LAST)) results.footprint.push({ what: `daemon, ${i} guests`, rss_mb: await steadyRss(daemon.pid) });
    }
    results.scale.push(...scalePoints('guestnet-daemon', daemonTimes));
    // The data path with all of them attached: one more guest, online, measured.
    const measured = await sandbox.startGuest({ agentScript: GUEST_BUNDLE });
    await daemonAttach(sandbox, measured.pid, true);
    await online(sandbox, measured);
    const loaded = await throughput(sandbox, measured);
    results.throughput.push({ guests: guests.length + 1, guest_gbps: loaded.guest, host_gbps: loaded.host, ratio: loaded.ratio });
    const agentPid = Number((await execa('pgrep', ['-P', String(measured.pid)], { reject: false })).stdout.split('\n')[0]);
    if (agentPid) results.footprint.push({ what: 'guest agent', rss_mb: await steadyRss(agentPid) });
    // A launcher shutting down: every guest at once.
    let t = performance.now();
    const bulk = await callDaemon(sandbox.stateDir, { type: 'detachAll' }, 60_000);
    if (!bulk.served) throw new Error('no daemon');
    results.detachAll.push({ system: 'guestnet-daemon, detach --all', guests: guests.length + 1, ms: ms(t) });
    for (const guest of [...guests, measured]) await guest.kill();

    // The data path with a single guest.
    const single = await sandbox.startGuest({ agentScript: GUEST_BUNDLE });
    await daemonAttach(sandbox, single.pid, true);
    const one = await throughput(sandbox, single);
    results.throughput.unshift({ guests: 1, guest_gbps: one.guest, host_gbps: one.host, ratio: one.ratio });
    await daemonDetach(sandbox, single.pid);
    await single.kill();
    await daemon.stop();

    // The same scale for CNI ptp.
    guests.length = 0;
    const ptpTimes: number[] = [];
    for (let i = 1; i <= SCALE_LAST; i++) {
      const guest = await sandbox.startGuest({ agent: false });
      guests.push(guest);
      const started = performance.now();
      await must('ptp ADD', await cni(sandbox, 'ADD', `s${guest.pid}`, guest.pid));
      ptpTimes.push(ms(started));
    }
    results.scale.push(...scalePoints('cni-ptp', ptpTimes));
    t = performance.now();
    for (const guest of guests) await cni(sandbox, 'DEL', `s${guest.pid}`, guest.pid);
    results.detachAll.push({ system: 'cni-ptp, one DEL each', guests: guests.length, ms: ms(t) });
    for (const guest of guests) await guest.kill();
  } finally {
    await sandbox.destroy();
  }

  const withTargets = { ...results, targets: targetsOf(results) };
  await mkdir(join(RESULTS, '..'), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(withTargets, null, 2)}\n`);
  print(withTargets);
}

interface Target {
  target: string;
  measured: number;
  limit: number;
  met: boolean;
}

/** The targets, each as what was measured against its limit. */
function targetsOf(r: {
  attach: Array<{ system: string; median_ms: number }>;
  scale: Array<{ system: string; guest: number; ms: number }>;
  throughput: Array<{ guests: number; ratio: number }>;
  footprint: Array<{ what: string; rss_mb: number }>;
  detachAll: Array<{ system: string; guests: number; ms: number }>;
  machine: { node_bare_ms: number };
}): Target[] {
  const attach = (system: string) => r.attach.find((a) => a.system === system)?.median_ms ?? NaN;
  const daemonScale = r.scale.filter((s) => s.system === 'guestnet-daemon');
  const first = daemonScale[0];
  const last = daemonScale.at(-1);
  const round = (x: number) => Math.round(x * 100) / 100;
  const at = (target: string, measured: number, limit: number, atMost = true): Target => ({
    target,
    measured: round(measured),
    limit: round(limit),
    met: atMost ? measured <= limit : measured >= limit,
  });
  return [
    at('guestnet-daemon attach median ms, at most cni-ptp median', attach('guestnet-daemon'), attach('cni-ptp')),
    at(`guestnet-daemon attach ms at guest ${last?.guest}, at most 1.2x guest ${first?.guest}`, last?.ms ?? NaN, 1.2 * (first?.ms ?? NaN)),
    at('guestnet-cli ms beyond the daemon path, at most node -e 0 + 40', attach('guestnet-cli') - attach('guestnet-daemon'), r.machine.node_bare_ms + 40),
    at('guestnet-cli-standalone ms, at most node -e 0 + 40', attach('guestnet-cli-standalone'), r.machine.node_bare_ms + 40),
    ...r.throughput.map((t) => at(`data-path ratio with ${t.guests} guest(s), at least 0.9`, t.ratio, 0.9, false)),
    ...r.footprint.filter((f) => /daemon, \d+ guests/.test(f.what)).map((f) => at(`${f.what}, RSS MB at most 60`, f.rss_mb, 60)),
    ...r.detachAll.filter((d) => d.system.includes('detach --all')).map((d) => at(`detach --all of ${d.guests} guests, ms at most 2000`, d.ms, 2000)),
  ];
}

function print(r: {
  targets: Target[];
  attach: Array<{ system: string; median_ms: number; p95_ms: number; runs: number }>;
  scale: Array<{ system: string; guest: number; ms: number }>;
  detachAll: Array<{ system: string; guests: number; ms: number }>;
  throughput: Array<{ guests: number; guest_gbps: number; host_gbps: number; ratio: number }>;
  footprint: Array<{ what: string; rss_mb: number }>;
  machine: Record<string, unknown>;
}): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`\n### Attach until the guest is online (${r.attach[0]?.runs ?? 0} runs each, interleaved)\n`);
  out('| system | median ms | p95 ms |\n| --- | ---: | ---: |');
  for (const a of r.attach) out(`| ${a.system} | ${a.median_ms} | ${a.p95_ms} |`);
  out('\n### Attach number N (host side; guestnet with --no-wait; median of N-2 to N+2)\n');
  out('| system | guest | ms |\n| --- | ---: | ---: |');
  for (const s of r.scale) out(`| ${s.system} | ${s.guest} | ${s.ms} |`);
  for (const d of r.detachAll) out(`\ndetach of all ${d.guests} guests, ${d.system}: ${d.ms} ms`);
  out('\n### Data path: guest-to-internet over host-to-internet TCP (iperf3)\n');
  out('| guests attached | guest Gbit/s | host Gbit/s | ratio |\n| ---: | ---: | ---: | ---: |');
  for (const t of r.throughput) out(`| ${t.guests} | ${t.guest_gbps.toFixed(2)} | ${t.host_gbps.toFixed(2)} | ${t.ratio.toFixed(2)} |`);
  out('\n### Footprint\n');
  for (const f of r.footprint) out(`- ${f.what}: ${f.rss_mb} MB RSS`);
  out(`- host-agent --help: ${String(r.machine.cli_help_ms)} ms; bare node -e 0: ${String(r.machine.node_bare_ms)} ms`);
  out('\n### Targets\n');
  out('| target | measured | limit | met |\n| --- | ---: | ---: | --- |');
  for (const t of r.targets) out(`| ${t.target} | ${t.measured} | ${t.limit} | ${t.met ? 'yes' : 'no'} |`);
  out(`\nmachine: ${JSON.stringify(r.machine)}`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 1;
});
