// The bench's results: the targets against what was measured, and the tables.

export interface AttachFigure {
  system: string;
  median_ms: number;
  p95_ms: number;
  runs: number;
}

/** A storm: `guests` attached at once, until every one got the sandbox server's answer. */
export interface StormFigure {
  system: string;
  guests: number;
  runs: number;
  /** False while the daemon takes no such request: the row has no figures. */
  supported: boolean;
  /** Medians over the runs. */
  wall_ms?: number;
  cpu_s?: number;
  /** Medians of each round's ratio to that round's cni-ptp storm. */
  wall_vs_ptp?: number;
  cpu_vs_ptp?: number;
  wall_ms_runs?: number[];
  cpu_s_runs?: number[];
  /** cpu_s by where it was spent: the clients, the daemon, the guests (their agents); each with what it ran. */
  cpu_parts_s?: Record<string, number>;
  /** The probe's own CPU, which is not counted in cpu_s. */
  probe_cpu_s?: number;
}

export interface Results {
  attach: AttachFigure[];
  storms: StormFigure[];
  lanTypes: AttachFigure[];
  /** A guest with only udhcpc: guestnet's daemon with --guest-config dhcp, and Waydroid's bridge with dnsmasq (dhcp-guests.ts). */
  dhcpGuests: AttachFigure[];
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
  /** null where nothing could be measured (see note). */
  measured: number | null;
  limit: number;
  met: boolean;
  note?: string;
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
  const lan = (system: string) => r.lanTypes.find((a) => a.system === system)?.median_ms ?? NaN;
  const overLanPeer = (guestnet: string, cni: string) => at(`${guestnet} median over ${cni}'s, at most 1.0x`, lan(guestnet) / lan(cni), 1);
  const storm = (system: string, what: string, limit: number): Target => {
    const s = r.storms.find((x) => x.system === system);
    const target = `storm of ${s?.guests} guests ${what}, wall over cni-ptp's storm, at most ${limit}x`;
    if (s?.supported === false) return { target, measured: null, limit, met: false, note: 'not supported' };
    return at(target, s?.wall_vs_ptp ?? NaN, limit);
  };
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
    storm('guestnet-cli', 'through the CLI', 2),
    storm('guestnet-cni', 'through the CNI plugin', 2),
    storm('guestnet-one-request', 'in one request', 0.5),
    overLanPeer('guestnet bridged veth', 'cni bridge'),
    overLanPeer('guestnet macvlan', 'cni macvlan'),
    overLanPeer('guestnet phys', 'cni host-device'),
  ];
}

/** guestnet's dhcp guest median over Waydroid's dnsmasq one: below 1 is faster. */
export function dhcpRatio(figures: readonly AttachFigure[]): number {
  const of = (system: string) => figures.find((a) => a.system === system)?.median_ms ?? NaN;
  return of('guestnet-daemon dhcp') / of('waydroid dnsmasq');
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
  const storms = r.storms.filter((s) => s.supported);
  out(
    `\n### Storms: ${r.storms[0]?.guests ?? 0} guests at once, until every one gets the server's answer (${storms[0]?.runs ?? 0} rounds, interleaved)\n`,
  );
  out('| system | wall ms | over cni-ptp | CPU s | over cni-ptp | CPU s: clients, daemon, guests |');
  out('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const s of r.storms) {
    const parts = Object.values(s.cpu_parts_s ?? {}).join(', ');
    out(
      s.supported
        ? `| ${s.system} | ${s.wall_ms} | ${s.wall_vs_ptp?.toFixed(2)}x | ${s.cpu_s} | ${s.cpu_vs_ptp?.toFixed(2)}x | ${parts} |`
        : `| ${s.system} | not supported | | | | |`,
    );
  }
  const probe = Math.max(...storms.map((s) => s.probe_cpu_s ?? 0));
  out(
    "\nMedians over the rounds; ratios are the median of each round's. CPU is every process of the system and all they ran, " +
      `counted by a cgroup per storm; the probe's own (${probe} s at most) is not in it.`,
  );
  out(
    `\n### Network types on a LAN: attach until the guest reaches the LAN's server (${r.lanTypes[0]?.runs ?? 0} runs each, interleaved)\n`,
  );
  out('| system | median ms | p95 ms |\n| --- | ---: | ---: |');
  for (const a of r.lanTypes) out(`| ${a.system} | ${a.median_ms} | ${a.p95_ms} |`);
  out(`\n### A DHCP guest (busybox udhcpc, no agent): attach until online (${r.dhcpGuests[0]?.runs ?? 0} runs each, interleaved)\n`);
  out('| system | median ms | p95 ms |\n| --- | ---: | ---: |');
  for (const a of r.dhcpGuests) out(`| ${a.system} | ${a.median_ms} | ${a.p95_ms} |`);
  out(`\nguestnet-daemon dhcp over waydroid dnsmasq: ${dhcpRatio(r.dhcpGuests).toFixed(2)}x.`);
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
  for (const t of r.targets) out(`| ${t.target} | ${t.note ?? t.measured} | ${t.limit} | ${t.met ? 'yes' : 'no'} |`);
  out(`\nmachine: ${JSON.stringify(r.machine)}`);
}
