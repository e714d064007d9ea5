import assert from 'node:assert/strict';
import { print, type Results, type StormFigure, targetsOf } from '../../bench/report.js';

const storm = (system: string, wallOverPtp: number): StormFigure => ({
  system,
  guests: 30,
  runs: 3,
  supported: true,
  wall_ms: 1000 * wallOverPtp,
  cpu_s: 2,
  wall_vs_ptp: wallOverPtp,
  cpu_vs_ptp: 2,
  cpu_parts_s: { clients: 1, daemon: 0.5, guests: 0.5 },
});

function results(storms: StormFigure[]): Results {
  const lan = (system: string, ms: number) => ({ system, median_ms: ms, p95_ms: ms, runs: 3 });
  return {
    attach: [],
    storms,
    lanTypes: [
      lan('guestnet bridged veth', 90),
      lan('cni bridge', 100),
      lan('guestnet macvlan', 110),
      lan('cni macvlan', 100),
      lan('guestnet phys', 100),
      lan('cni host-device', 100),
    ],
    dhcpGuests: [lan('guestnet-daemon dhcp', 150), lan('waydroid dnsmasq', 300)],
    scale: [],
    detachAll: [],
    throughput: [],
    footprint: [],
    processes: [],
    machine: { node_bare_ms: 100, cli_help_ms: 120 },
  };
}

describe("bench: the storms' and network types' targets", () => {
  const unsupported: StormFigure = { system: 'guestnet-one-request', guests: 30, runs: 0, supported: false };
  const measured = results([storm('cni-ptp', 1), storm('guestnet-cli', 1.5), storm('guestnet-cni', 6.4), unsupported]);

  it('sets each storm against 2x or 0.5x ptp, and a system the daemon does not take is "not supported", never a number', () => {
    const targets = targetsOf(measured).filter((t) => t.target.startsWith('storm of 30 guests'));
    assert.deepEqual(
      targets.map((t) => [t.measured, t.limit, t.met, t.note]),
      [
        [1.5, 2, true, undefined],
        [6.4, 2, false, undefined],
        [null, 0.5, false, 'not supported'],
      ],
    );
    assert.match(JSON.stringify(targets[2]), /"measured":null/);
  });

  it('sets each network type against its CNI peer, at most 1.0x', () => {
    const targets = targetsOf(measured).filter((t) => t.limit === 1 && / over cni /.test(t.target));
    assert.deepEqual(
      targets.map((t) => [t.target.split(' median')[0], t.measured, t.met]),
      [
        ['guestnet bridged veth', 0.9, true],
        ['guestnet macvlan', 1.1, false],
        ['guestnet phys', 1, true],
      ],
    );
  });

  it('prints the storms, an unsupported row without figures', () => {
    let printed = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      print({ ...measured, targets: targetsOf(measured) });
    } finally {
      process.stdout.write = write;
    }
    assert.match(printed, /### Storms: 30 guests at once/);
    assert.match(printed, /\| guestnet-cni \| 6400 \| 6\.40x \| 2 \| 2\.00x \| 1, 0\.5, 0\.5 \|/);
    assert.match(printed, /\| guestnet-one-request \| not supported \| \| \| \| \|/);
    assert.match(printed, /in one request, wall over cni-ptp's storm, at most 0\.5x \| not supported \| 0\.5 \| no \|/);
  });

  it("prints a DHCP guest's times, guestnet's and Waydroid's dnsmasq's, and their ratio", () => {
    let printed = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      print({ ...measured, targets: targetsOf(measured) });
    } finally {
      process.stdout.write = write;
    }
    assert.match(printed, /### A DHCP guest \(busybox udhcpc, no agent\): attach until online \(3 runs each, interleaved\)/);
    assert.match(printed, /\| guestnet-daemon dhcp \| 150 \| 150 \|\n\| waydroid dnsmasq \| 300 \| 300 \|/);
    assert.match(printed, /guestnet-daemon dhcp over waydroid dnsmasq: 0\.50x\./);
  });
});
