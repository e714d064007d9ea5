// The bench's results: the targets against what was measured, and the tables.

export interface AttachFigure {
  system: string;
  median_ms: number;
  p95_ms: number;
  runs: number;
}

export interface Results {
  attach: AttachFigure[];
  lanTypes: AttachFigure[];
  scale: Array<{ system: string; guest: number; ms: number }>;
  detachAll: Array<{ system: string; guests: number; ms: number }>;
  throughput: Array<{ guests: number; guest_gbps: number; host_gbps: number; ratio: number }>;
  /** Private memory, children included. */
  footprint: Array<{ what: string; private_mb: number }>;
  processes: Array<{ system: string; processes: number; commands: string[] }>;
  machine: { node_bare_ms: number; cli_help_ms: number } & Record<string, unknown>;
}

export interface Target {
  target: string;
  measured: number;
  limit: number;
  met: boolean;
}

/** The targets, each as what was measured against its limit. */
export function targetsOf(r: Results): Target[] {
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
  const footprint = (pattern: RegExp) => r.footprint.filter((f) => pattern.test(f.what));
  return [
    at('guestnet-daemon attach median ms, at most 0.8x cni-ptp median', attach('guestnet-daemon'), 0.8 * attach('cni-ptp')),
    at(`guestnet-daemon attach ms at guest ${last?.guest}, at most 1.2x guest ${first?.guest}`, last?.ms ?? NaN, 1.2 * (first?.ms ?? NaN)),
    at(
      'guestnet-cli ms beyond the daemon path, at most node -e 0 + 40',
      attach('guestnet-cli') - attach('guestnet-daemon'),
      r.machine.node_bare_ms + 40,
    ),
    at('guestnet-cli-standalone ms, at most node -e 0 + 40', attach('guestnet-cli-standalone'), r.machine.node_bare_ms + 40),
    at(
      'processes on the attach path, daemon and guest agent, at most 3',
      r.processes.find((p) => p.system.startsWith('guestnet'))?.processes ?? NaN,
      3,
    ),
    ...r.throughput.map((t) => at(`data-path ratio with ${t.guests} guest(s), at least 0.9`, t.ratio, 0.9, false)),
    ...footprint(/^guest agent/).map((f) => at(`${f.what}, private MB at most 10`, f.private_mb, 10)),
    ...footprint(/daemon, \d+ guests/).map((f) => at(`${f.what}, private MB at most 30`, f.private_mb, 30)),
    at('host-agent --help ms, at most node -e 0 + 25', r.machine.cli_help_ms, r.machine.node_bare_ms + 25),
    ...r.detachAll
      .filter((d) => d.system.includes('detach --all'))
      .map((d) => at(`detach --all of ${d.guests} guests, ms at most 2000`, d.ms, 2000)),
  ];
}

export function print(r: Results & { targets: Target[] }): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const median = (system: string) => r.attach.find((a) => a.system === system)?.median_ms ?? NaN;
  out(`\n### Attach until the guest is online (${r.attach[0]?.runs ?? 0} runs each, interleaved)\n`);
  out('| system | median ms | p95 ms |\n| --- | ---: | ---: |');
  for (const a of r.attach) out(`| ${a.system} | ${a.median_ms} | ${a.p95_ms} |`);
  const ratio = (system: string) => (median(system) / median('cni-ptp')).toFixed(2);
  out(
    `\nOver cni-ptp: guestnet-daemon ${ratio('guestnet-daemon')}x; ` +
      `floor-script (guestnet's earlier processes from one shell) ${ratio('floor-script')}x; ` +
      `floor-3-script (its three processes from one shell, nothing else) ${ratio('floor-3-script')}x.`,
  );
  out(
    `\n### Network types on a LAN: attach until the guest reaches the LAN's server (${r.lanTypes[0]?.runs ?? 0} runs each, interleaved)\n`,
  );
  out('| system | median ms | p95 ms |\n| --- | ---: | ---: |');
  for (const a of r.lanTypes) out(`| ${a.system} | ${a.median_ms} | ${a.p95_ms} |`);
  out('\n### Attach number N (host side; guestnet with --no-wait; median of N-2 to N+2)\n');
  out('| system | guest | ms |\n| --- | ---: | ---: |');
  for (const s of r.scale) out(`| ${s.system} | ${s.guest} | ${s.ms} |`);
  for (const d of r.detachAll) out(`\ndetach of all ${d.guests} guests, ${d.system}: ${d.ms} ms`);
  out('\n### Data path: guest-to-internet over host-to-internet TCP (iperf3)\n');
  out('| guests attached | guest Gbit/s | host Gbit/s | ratio |\n| ---: | ---: | ---: | ---: |');
  for (const t of r.throughput) out(`| ${t.guests} | ${t.guest_gbps.toFixed(2)} | ${t.host_gbps.toFixed(2)} | ${t.ratio.toFixed(2)} |`);
  out('\n### Processes run by one attach, until the guest is online (those spawned ahead included)\n');
  out('| system | processes | commands |\n| --- | ---: | --- |');
  for (const p of r.processes)
    out(`| ${p.system} | ${p.processes} | ${p.commands.map((c) => c.split(' ').slice(0, 3).join(' ')).join('; ')} |`);
  out('\n### Footprint\n');
  for (const f of r.footprint) out(`- ${f.what}: ${f.private_mb} MB private, children included`);
  out(`- host-agent --help: ${String(r.machine.cli_help_ms)} ms; bare node -e 0: ${String(r.machine.node_bare_ms)} ms`);
  out('\n### Targets\n');
  out('| target | measured | limit | met |\n| --- | ---: | ---: | --- |');
  for (const t of r.targets) out(`| ${t.target} | ${t.measured} | ${t.limit} | ${t.met ? 'yes' : 'no'} |`);
  out(`\nmachine: ${JSON.stringify(r.machine)}`);
}
