// The figures of docs/performance.md, written from one run's results
// (test/bench/results/latest.json) into the doc's generated regions, so the
// doc quotes that run and nothing else. `npm run bench` rewrites them after
// each run; a unit test fails when they differ from latest.json.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dhcpRatio, type Results, type Target } from './report.js';
import { RUN_SIZES, type RunKind } from './sizes.js';

/** A results file as written: a section a bench of its time did not measure is absent. */
export type ResultsFile = Partial<Results> & { targets?: Target[] };

export const REGIONS = ['reproduce', 'latest', 'storms'] as const;
export type Region = (typeof REGIONS)[number];

export const beginOf = (region: Region) =>
  `<!-- begin bench:${region}: written by npm run bench from test/bench/results/latest.json, do not edit -->`;
export const endOf = (region: Region) => `<!-- end bench:${region} -->`;

/** A markdown table with its columns padded to one width; `right` says which columns hold figures. */
export function table(header: string[], right: boolean[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, 3, ...rows.map((row) => (row[i] ?? '').length)));
  const pad = (cell: string, i: number) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0));
  const line = (cells: string[]) => `| ${header.map((_, i) => pad(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const inWords = (words: string[]) => (words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`);
const ratio = (x: number) => `${x.toFixed(2)}x`;

const COMMANDS: Record<RunKind, string> = {
  full: 'npm run bench',
  quick: 'npm run bench -- --quick',
  smoke: 'npm run bench -- --smoke',
};

/** What a run of each kind measures. */
function sizeInWords(kind: RunKind): string {
  const size = RUN_SIZES[kind];
  return (
    `${plural(size.runs, 'run')} each, scale points at guests ${inWords(size.scalePoints.map(String))}, ` +
    `storms of ${size.stormGuests} guests in ${plural(size.stormRounds, 'round')}`
  );
}

function reproduce(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.length));
  const line = (kind: RunKind, note = '') => `${COMMANDS[kind].padEnd(width)}  # ${sizeInWords(kind)}${note}`;
  return ['```sh', line('full'), line('quick'), line('smoke', '; npm test runs it and never looks at a time'), '```'].join('\n');
}

/** The kind of run that measured `r`, from its size. */
function kindOf(r: ResultsFile): RunKind | undefined {
  const runs = r.attach?.[0]?.runs;
  return (Object.keys(RUN_SIZES) as RunKind[]).find((kind) => RUN_SIZES[kind].runs === runs);
}

/** The command lines one attach ran, by program: `ip ×3`, `host-local, iptables ×9, ptp`. */
function programsOf(commands: string[]): string {
  const counts = new Map<string, number>();
  for (const command of commands) {
    const program = (command.split(' ')[0] ?? '').split('/').at(-1) ?? '';
    counts.set(program, (counts.get(program) ?? 0) + 1);
  }
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([program, n]) => (n === 1 ? `\`${program}\`` : `\`${program}\` ×${n}`))
    .join(', ');
}

const targetRows = (targets: Target[]) =>
  targets.map((t) => [t.target, t.note ?? String(t.measured), String(t.limit), t.met ? 'yes' : 'no']);
const isStormTarget = (t: Target) => t.target.startsWith('storm of ');

function latest(r: ResultsFile): string {
  const machine = r.machine;
  const out: string[] = [];
  out.push(
    `\`${COMMANDS[kindOf(r) ?? 'full']}\`, ${plural(r.attach?.[0]?.runs ?? 0, 'run')} each, ` +
      `on Node.js ${String(machine?.node ?? 'unknown')}, ${String(machine?.cpus ?? '?')} CPUs (${String(machine?.model ?? 'unknown')}).`,
  );
  const unset = Array.isArray(machine?.env_unset) ? (machine.env_unset as string[]) : [];
  if (unset.length > 0)
    out.push('', `Unset for every process it started, as a service manager would: ${unset.map((n) => `\`${n}\``).join(', ')}.`);
  const attach = r.attach ?? [];
  const median = (system: string) => attach.find((a) => a.system === system)?.median_ms ?? NaN;
  if (attach.length > 0) {
    out.push(
      '',
      table(
        ['system: attach until online', 'median ms', 'p95 ms'],
        [false, true, true],
        attach.map((a) => [a.system, String(a.median_ms), String(a.p95_ms)]),
      ),
      '',
      `Over cni-ptp: ${['guestnet-daemon', 'floor-script', 'floor-3-script']
        .map((system) => `${system} ${ratio(median(system) / median('cni-ptp'))}`)
        .join(', ')}.`,
    );
  }
  if ((r.lanTypes ?? []).length > 0)
    out.push(
      '',
      table(
        ["network types on a LAN: until the LAN's server is reached", 'median ms', 'p95 ms'],
        [false, true, true],
        (r.lanTypes ?? []).map((a) => [a.system, String(a.median_ms), String(a.p95_ms)]),
      ),
    );
  const dhcpGuests = r.dhcpGuests ?? [];
  if (dhcpGuests.length > 0)
    out.push(
      '',
      table(
        ['a DHCP guest (udhcpc, no agent): attach until online', 'median ms', 'p95 ms'],
        [false, true, true],
        dhcpGuests.map((a) => [a.system, String(a.median_ms), String(a.p95_ms)]),
      ),
      '',
      `guestnet-daemon dhcp over waydroid dnsmasq (a bridge, dnsmasq and a MASQUERADE rule, as waydroid-net.sh sets them up): ${ratio(dhcpRatio(dhcpGuests))}.`,
    );
  const scale = r.scale ?? [];
  const guests = [...new Set(scale.map((s) => s.guest))];
  const scaleSystems = [...new Set(scale.map((s) => s.system))];
  if (scale.length > 0)
    out.push(
      '',
      table(
        ['host side of attach number N', ...guests.map((g) => `guest ${g}`)],
        [false, ...guests.map(() => true)],
        scaleSystems.map((system) => [
          system === 'guestnet-daemon' ? 'guestnet-daemon `--no-wait`' : system,
          ...guests.map((g) => String(scale.find((s) => s.system === system && s.guest === g)?.ms ?? '')),
        ]),
      ),
    );
  if ((r.processes ?? []).length > 0)
    out.push(
      '',
      table(
        ['processes one attach runs', 'count', 'which'],
        [false, true, false],
        (r.processes ?? []).map((p) => [p.system, String(p.processes), programsOf(p.commands)]),
      ),
    );
  if ((r.detachAll ?? []).length > 0)
    out.push(
      '',
      table(
        ['removing every guest', 'guests', 'ms'],
        [false, true, true],
        (r.detachAll ?? []).map((d) => [d.system, String(d.guests), String(d.ms)]),
      ),
    );
  if ((r.throughput ?? []).length > 0)
    out.push(
      '',
      table(
        ['iperf3, guests attached', 'guest Gbit/s', 'host Gbit/s', 'guest over host'],
        [true, true, true, true],
        (r.throughput ?? []).map((t) => [String(t.guests), t.guest_gbps.toFixed(2), t.host_gbps.toFixed(2), t.ratio.toFixed(2)]),
      ),
    );
  if ((r.footprint ?? []).length > 0)
    out.push(
      '',
      table(
        ['private memory, children included', 'MB'],
        [false, true],
        (r.footprint ?? []).map((f) => [f.what, String(f.private_mb)]),
      ),
    );
  if (machine) out.push('', `\`host-agent --help\` took ${machine.cli_help_ms} ms, against ${machine.node_bare_ms} ms for \`node -e 0\`.`);
  const targets = (r.targets ?? []).filter((t) => !isStormTarget(t));
  if (targets.length > 0) out.push('', table(['target', 'measured', 'limit', 'met'], [false, true, true, false], targetRows(targets)));
  return out.join('\n');
}

function storms(r: ResultsFile): string {
  const all = r.storms ?? [];
  if (all.length === 0) return 'The latest run measured no storms.';
  const measured = all.filter((s) => s.supported);
  const rows = all.map((s) =>
    s.supported
      ? [
          `\`${s.system}\``,
          String(s.wall_ms),
          ratio(s.wall_vs_ptp ?? NaN),
          String(s.cpu_s),
          ratio(s.cpu_vs_ptp ?? NaN),
          Object.values(s.cpu_parts_s ?? {}).join(', '),
        ]
      : [`\`${s.system}\``, 'not supported', '', '', '', ''],
  );
  const rounds = measured[0]?.runs ?? 0;
  const out = [
    `The latest run's storms: ${plural(all[0]?.guests ?? 0, 'guest')} at once, ${plural(rounds, 'round')}.`,
    '',
    table(
      [`storm of ${all[0]?.guests} guests`, 'wall ms', 'over ptp', 'CPU s', 'over ptp', 'CPU s: clients, daemon, guests'],
      [false, true, true, true, true, true],
      rows,
    ),
  ];
  const targets = (r.targets ?? []).filter(isStormTarget);
  if (targets.length > 0) out.push('', table(['target', 'measured', 'limit', 'met'], [false, true, true, false], targetRows(targets)));
  if (measured.length > 0)
    out.push('', `The probe used ${Math.max(...measured.map((s) => s.probe_cpu_s ?? 0))} CPU seconds per storm at most.`);
  return out.join('\n');
}

/** The content of each generated region for the results `r`. */
export function regionsOf(r: ResultsFile): Record<Region, string> {
  return { reproduce: reproduce(), latest: latest(r), storms: storms(r) };
}

/** What `doc` holds in `region`, or undefined when it has no such region. */
export function regionIn(doc: string, region: Region): string | undefined {
  const begin = doc.indexOf(beginOf(region));
  const end = doc.indexOf(endOf(region));
  if (begin < 0 || end < begin) return undefined;
  return doc
    .slice(begin + beginOf(region).length, end)
    .replace(/^\n/, '')
    .replace(/\n$/, '');
}

/** `doc` with each generated region written from `r`; a doc that lacks a region is an error. */
export function withFigures(doc: string, r: ResultsFile): string {
  let text = doc;
  for (const [region, content] of Object.entries(regionsOf(r)) as Array<[Region, string]>) {
    const begin = text.indexOf(beginOf(region));
    const end = text.indexOf(endOf(region));
    if (begin < 0 || end < begin) throw new Error(`docs/performance.md has no ${region} region`);
    text = `${text.slice(0, begin + beginOf(region).length)}\n${content}\n${text.slice(end)}`;
  }
  return text;
}

export const PERFORMANCE_DOC = fileURLToPath(new URL('../../../docs/performance.md', import.meta.url));
export const LATEST = fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));

/** Rewrites docs/performance.md's figures from `r`. */
export async function writePerformanceDoc(r: ResultsFile): Promise<void> {
  await writeFile(PERFORMANCE_DOC, withFigures(await readFile(PERFORMANCE_DOC, 'utf8'), r));
}
