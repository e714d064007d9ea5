import assert from 'node:assert/strict';
import { beginOf, endOf, REGIONS, regionIn, regionsOf, type ResultsFile, table, withFigures } from '../../bench/doc-tables.js';
import { targetsOf } from '../../bench/report.js';
import { RUN_SIZES } from '../../bench/sizes.js';

const storm = (system: string, wallOverPtp: number) => ({
  system,
  guests: 30,
  runs: 3,
  supported: true,
  wall_ms: 1000 * wallOverPtp,
  cpu_s: 2,
  wall_vs_ptp: wallOverPtp,
  cpu_vs_ptp: 1.5,
  cpu_parts_s: { clients: 1, daemon: 0.5, guests: 0.5 },
  probe_cpu_s: 0.14,
});

const run: ResultsFile = {
  attach: [
    { system: 'cni-ptp', median_ms: 100, p95_ms: 120, runs: 5 },
    { system: 'guestnet-daemon', median_ms: 60, p95_ms: 70.5, runs: 5 },
  ],
  storms: [storm('cni-ptp', 1), storm('guestnet-cli', 1.5), { system: 'guestnet-one-request', guests: 30, runs: 0, supported: false }],
  lanTypes: [],
  scale: [
    { system: 'guestnet-daemon', guest: 1, ms: 90 },
    { system: 'guestnet-daemon', guest: 200, ms: 95 },
  ],
  detachAll: [],
  throughput: [],
  footprint: [{ what: 'guest agent, one guest kept', private_mb: 8.6 }],
  processes: [
    {
      system: 'cni-ptp',
      processes: 4,
      commands: ['/usr/lib/cni/host-local', '/usr/sbin/iptables -S', 'iptables -A x', '/usr/lib/cni/ptp'],
    },
  ],
  machine: { node: 'v20.20.2', cpus: 2, model: 'AMD EPYC', node_bare_ms: 100, cli_help_ms: 120 },
};
run.targets = targetsOf({ ...run, lanTypes: [] } as Parameters<typeof targetsOf>[0]);

const emptyDoc = (before = 'hand-written\n', after = '\nmore hand-written\n') =>
  before + REGIONS.map((region) => `${beginOf(region)}\nold figures\n${endOf(region)}\n`).join('prose\n') + after;

describe("bench: docs/performance.md's figures, written from a run", () => {
  it('names the size of each kind of run as the bench runs it', () => {
    const reproduce = regionsOf(run).reproduce;
    assert.match(
      reproduce,
      /^npm run bench {2,}# 20 runs each, scale points at guests 1, 50, 200 and 500, storms of 100 guests in 5 rounds$/m,
    );
    assert.match(reproduce, new RegExp(`--quick +# ${RUN_SIZES.quick.runs} runs each`));
    assert.match(reproduce, /--smoke +# 1 run each, .* storms of 2 guests in 1 round;/);
  });

  it('writes the run: the node and machine, the tables, the ratio to ptp, processes by program, and the targets', () => {
    const latest = regionsOf(run).latest;
    assert.match(latest, /^`npm run bench -- --quick`, 5 runs each, on Node\.js v20\.20\.2, 2 CPUs \(AMD EPYC\)\.$/m);
    assert.match(latest, /^\| guestnet-daemon +\| +60 \| +70\.5 \|$/m);
    assert.match(latest, /^Over cni-ptp: guestnet-daemon 0\.60x/m);
    assert.match(latest, /^\| guestnet-daemon `--no-wait` +\| +90 \| +95 \|$/m);
    assert.match(latest, /^\| cni-ptp +\| +4 \| `host-local`, `iptables` ×2, `ptp` \|$/m);
    assert.match(latest, /^\| guest agent, one guest kept +\| +8\.6 \|$/m);
    assert.match(latest, /^`host-agent --help` took 120 ms, against 100 ms for `node -e 0`\.$/m);
    assert.match(latest, /^\| guestnet-daemon attach median ms, at most 0\.8x cni-ptp median +\| +60 \| +80 \| yes \|$/m);
    assert.doesNotMatch(latest, /storm of/, "the storms' targets are the storms' region's");
    assert.doesNotMatch(latest, /network types on a LAN|DHCP guest|removing every guest|iperf3/, 'a section the run lacks has no table');
  });

  it("writes a DHCP guest's times, guestnet's daemon's and Waydroid's dnsmasq's, with their ratio", () => {
    const dhcpGuests = [
      { system: 'guestnet-daemon dhcp', median_ms: 150, p95_ms: 170, runs: 5 },
      { system: 'waydroid dnsmasq', median_ms: 200, p95_ms: 260, runs: 5 },
    ];
    const latest = regionsOf({ ...run, dhcpGuests }).latest;
    assert.match(latest, /^\| a DHCP guest \(udhcpc, no agent\): attach until online \| median ms \| p95 ms \|$/m);
    assert.match(latest, /^\| guestnet-daemon dhcp +\| +150 \| +170 \|$/m);
    assert.match(latest, /^\| waydroid dnsmasq +\| +200 \| +260 \|$/m);
    assert.match(latest, /^guestnet-daemon dhcp over waydroid dnsmasq \(.*\): 0\.75x\.$/m);
  });

  it('writes the storms with their targets, a system the daemon does not take without a figure', () => {
    const storms = regionsOf(run).storms;
    assert.match(storms, /^The latest run's storms: 30 guests at once, 3 rounds\.$/m);
    assert.match(storms, /^\| `guestnet-cli` +\| +1500 \| +1\.50x \| +2 \| +1\.50x \| +1, 0\.5, 0\.5 \|$/m);
    assert.match(storms, /^\| `guestnet-one-request` \| not supported \| +\| +\| +\| +\|$/m);
    assert.match(storms, /^\| storm of 30 guests through the CLI, .* \| +1\.5 \| +2 \| yes \|$/m);
    assert.match(storms, /^\| storm of 30 guests in one request, .* \| not supported \| +0\.5 \| no +\|$/m);
    assert.match(storms, /^The probe used 0\.14 CPU seconds per storm at most\.$/m);
    assert.equal(regionsOf({ ...run, storms: undefined }).storms, 'The latest run measured no storms.');
  });

  it('replaces only the regions, and refuses a doc that lacks one', () => {
    const written = withFigures(emptyDoc(), run);
    assert.ok(written.startsWith('hand-written\n') && written.endsWith('\nmore hand-written\n'));
    assert.equal(written.split('prose\n').length, REGIONS.length);
    for (const region of REGIONS) assert.equal(regionIn(written, region), regionsOf(run)[region]);
    assert.equal(withFigures(written, run), written, 'writing twice changes nothing');
    assert.throws(() => withFigures('no regions here', run), /no reproduce region/);
  });

  it('pads a table to its widest cell, figures to the right', () => {
    assert.equal(
      table(['a', 'ms'], [false, true], [['long name', '1.5']]),
      '| a         |  ms |\n| --------- | --: |\n| long name | 1.5 |',
    );
  });
});
