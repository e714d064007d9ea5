// `npm run bench [-- --quick]`: guestnet beside the alternatives users have, on
// one sandbox in one run, so the figures are ratios that survive a noisy
// machine. Writes a markdown table to stdout and test/bench/results/latest.json,
// and then docs/performance.md's figures from it (unless --out names another file).
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callDaemon } from '@guestnet/host-agent';
import { execa } from 'execa';
import { type Guest, Sandbox } from '../fixtures/sandbox.js';
import { LATEST, writePerformanceDoc } from './doc-tables.js';
import { benchDhcpGuests } from './dhcp-guests.js';
import { benchLanTypes } from './lan-types.js';
import { median, ms, must, p95, quick, smoke, startupMs, steadyPrivateMb, throughput } from './measure.js';
import { print, type Results, targetsOf } from './report.js';
import { type RunSize, RUN_SIZES } from './sizes.js';
import { benchStorms } from './storms.js';
import {
  attachOnce,
  cni,
  countProcesses,
  daemonAttach,
  daemonDetach,
  GUEST_BUNDLE,
  HOST_BUNDLE,
  online,
  ptpConfig,
  type System,
} from './systems.js';

// Every process the bench starts gets a service's environment, as systemd, Android's init and a container runtime
// (itself a service) give the agents and the CNI plugins: no NODE_EXTRA_CA_CERTS or NODE_OPTIONS from the shell that
// ran the bench. The first makes Node 20 read a certificate bundle at every start, for TLS no guestnet process uses.
const SHELL_ONLY_ENV = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'];
const droppedEnv = SHELL_ONLY_ENV.filter((name) => process.env[name] !== undefined);
for (const name of droppedEnv) delete process.env[name];

const SIZE: RunSize = RUN_SIZES[smoke ? 'smoke' : quick ? 'quick' : 'full'];
const RUNS = SIZE.runs;
const SCALE_POINTS = SIZE.scalePoints;
// Attach N is the median of attaches N-2 to N+2: one attach is one noisy sample.
// Attach 1, the first on an empty host, happens once.
const around = (n: number) => (n === 1 ? [1] : [n - 2, n - 1, n, n + 1, n + 2]);
const SCALE_LAST = Math.max(...SCALE_POINTS.flatMap(around));

/** The scale points of one series, from `times[i]`, the time of attach i + 1. */
function scalePoints(system: string, times: number[]): Array<{ system: string; guest: number; ms: number }> {
  return SCALE_POINTS.map((guest) => ({ system, guest, ms: median(around(guest).map((n) => times[n - 1] ?? NaN)) }));
}
const outAt = process.argv.indexOf('--out');
const RESULTS = outAt > 0 ? (process.argv[outAt + 1] as string) : LATEST;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark builds network namespaces: run it as root');
  await execa('node', [join(ROOT, 'scripts/bundle.mjs')]);
  const results: Results = {
    attach: [],
    storms: [],
    lanTypes: [],
    dhcpGuests: [],
    scale: [],
    detachAll: [],
    throughput: [],
    footprint: [],
    processes: [],
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? '',
      memory_gb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      env_unset: droppedEnv,
      quick,
      node_bare_ms: 0,
      cli_help_ms: 0,
    },
  };
  const [bare, help] = await startupMs(['-e', '0'], [HOST_BUNDLE, '--help']);
  results.machine.node_bare_ms = bare ?? NaN;
  results.machine.cli_help_ms = help ?? NaN;

  const sandbox = await Sandbox.create('nftables');
  try {
    // Attach latency, the systems interleaved run by run so drift hits all alike.
    // The standalone CLI needs no daemon (it would hand over to one). The
    // daemon is a long-running service: each run's gets one untimed attach
    // first, so its start-up is not counted as an attach.
    const systems: System[] = [
      'seed-script',
      'floor-script',
      'floor-3-script',
      'cni-ptp',
      'guestnet-cli-standalone',
      'guestnet-daemon',
      'guestnet-cli',
    ];
    const withoutDaemon = systems.indexOf('guestnet-daemon');
    const times = new Map<System, number[]>(systems.map((s) => [s, []]));
    for (let run = 0; run < RUNS; run++) {
      for (const system of systems.slice(0, withoutDaemon)) times.get(system)?.push(await attachOnce(sandbox, system));
      const daemon = await sandbox.startDaemon([], HOST_BUNDLE);
      await attachOnce(sandbox, 'guestnet-daemon');
      for (const system of systems.slice(withoutDaemon)) times.get(system)?.push(await attachOnce(sandbox, system));
      await daemon.stop();
      process.stderr.write(`attach run ${run + 1}/${RUNS}\n`);
    }
    for (const [system, xs] of times) results.attach.push({ system, median_ms: median(xs), p95_ms: p95(xs), runs: xs.length });
    results.processes = await countProcesses(sandbox);
    results.storms = await benchStorms(sandbox, SIZE.stormRounds, SIZE.stormGuests);

    // Scale: the host-side cost of attach number N, bare guests (no agent, --no-wait).
    const daemon = await sandbox.startDaemon([], HOST_BUNDLE);
    results.footprint.push({ what: 'daemon, idle', private_mb: await steadyPrivateMb(daemon.pid) });
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
      if (i === Math.min(200, SCALE_LAST))
        results.footprint.push({ what: `daemon, ${i} guests`, private_mb: await steadyPrivateMb(daemon.pid) });
    }
    results.scale.push(...scalePoints('guestnet-daemon', daemonTimes));
    // The data path with all of them attached: one more guest, online, measured.
    const measured = await sandbox.startGuest({ agentScript: GUEST_BUNDLE });
    await daemonAttach(sandbox, measured.pid, true);
    await online(sandbox, measured);
    const loaded = await throughput(sandbox, measured);
    results.throughput.push({ guests: guests.length + 1, guest_gbps: loaded.guest, host_gbps: loaded.host, ratio: loaded.ratio });
    const agentPid = Number((await execa('pgrep', ['-P', String(measured.pid)], { reject: false })).stdout.split('\n')[0]);
    if (agentPid) results.footprint.push({ what: 'guest agent, one guest kept', private_mb: await steadyPrivateMb(agentPid) });
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
      await must('ptp ADD', await cni(sandbox, 'ADD', `s${guest.pid}`, guest.pid, ptpConfig(sandbox)));
      ptpTimes.push(ms(started));
    }
    results.scale.push(...scalePoints('cni-ptp', ptpTimes));
    t = performance.now();
    for (const guest of guests) await cni(sandbox, 'DEL', `s${guest.pid}`, guest.pid, ptpConfig(sandbox));
    results.detachAll.push({ system: 'cni-ptp, one DEL each', guests: guests.length, ms: ms(t) });
    for (const guest of guests) await guest.kill();

    // Before the LAN types, which add a LAN to the sandbox: a guest with only a DHCP client, guestnet's way and Waydroid's.
    results.dhcpGuests = await benchDhcpGuests(sandbox, RUNS);
    results.lanTypes = await benchLanTypes(sandbox, RUNS);
  } finally {
    await sandbox.destroy();
  }

  const withTargets = { ...results, targets: targetsOf(results) };
  await mkdir(join(RESULTS, '..'), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(withTargets, null, 2)}\n`);
  if (RESULTS === LATEST) await writePerformanceDoc(withTargets);
  print(withTargets);
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 1;
});
