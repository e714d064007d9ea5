import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const BENCH = fileURLToPath(new URL('../../bench/bench.js', import.meta.url));

// CI's smoke run of `npm run bench`: everything runs once, and the output has
// every section. Times are printed, never asserted.
describe('npm run bench, smoke run', function () {
  this.timeout(300_000);
  let dir: string;
  let stdout: string;
  let results: Record<string, Array<Record<string, unknown>>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'guestnet-bench-'));
    const out = join(dir, 'results.json');
    stdout = (await execa('node', [BENCH, '--smoke', '--out', out])).stdout;
    results = JSON.parse(await readFile(out, 'utf8'));
  });
  after(async () => dir && rm(dir, { recursive: true, force: true }));

  it('times an attach of every system, until the guest is online', () => {
    assert.deepEqual(
      results.attach?.map((a) => a.system),
      ['seed-script', 'floor-script', 'floor-3-script', 'cni-ptp', 'guestnet-cli-standalone', 'guestnet-daemon', 'guestnet-cli'],
    );
    for (const a of results.attach ?? []) assert.ok(Number(a.median_ms) > 0, `${a.system}: no time`);
  });

  it('times the network types beside their CNI counterparts, on a LAN', () => {
    assert.deepEqual(
      results.lanTypes?.map((a) => a.system),
      ['guestnet bridged veth', 'cni bridge', 'guestnet macvlan', 'cni macvlan', 'guestnet phys', 'cni host-device'],
    );
    for (const a of results.lanTypes ?? []) assert.ok(Number(a.median_ms) > 0, `${a.system}: no time`);
    assert.ok(stdout.includes('### Network types on a LAN'));
  });

  it('storms every system with guests at once against ptp, each CPU part counted, one request said unsupported until the daemon takes it', () => {
    const storms = results.storms ?? [];
    assert.deepEqual(
      storms.map((s) => s.system),
      ['cni-ptp', 'guestnet-cli', 'guestnet-cni', 'guestnet-one-request'],
    );
    const [ptp, cli, cni, one] = storms;
    for (const s of [ptp, cli, cni]) {
      assert.equal(s?.supported, true, String(s?.system));
      assert.equal(s?.guests, 2);
      assert.ok(Number(s?.wall_ms) > 0, `${s?.system}: no time`);
      assert.equal(typeof s?.wall_vs_ptp, 'number');
    }
    // Short-lived processes are counted: ptp's plugins, and each of the CLI's parts (clients, daemon, guest agents).
    const cpu = (s: Record<string, unknown> | undefined, part: string) =>
      (s?.cpu_parts_s as Record<string, number> | undefined)?.[part] ?? 0;
    assert.ok(cpu(ptp, 'clients') > 0, 'ptp and its plugins counted');
    for (const part of ['clients', 'daemon', 'guests']) assert.ok(cpu(cli, part) > 0, `the CLI storm's ${part} counted`);
    assert.ok(cpu(cni, 'clients') > 0, 'the CNI plugin counted');
    if (one?.supported === false) assert.equal(one.wall_ms, undefined, 'an unsupported row has no figures');
    else assert.ok(Number(one?.wall_ms) > 0, 'one request: no time');
    assert.ok(stdout.includes('### Storms'));
  });

  it('has scale, data path and footprint figures, and prints the tables', () => {
    assert.ok((results.scale ?? []).some((s) => s.system === 'guestnet-daemon'));
    assert.ok((results.scale ?? []).some((s) => s.system === 'cni-ptp'));
    assert.deepEqual(
      (results.detachAll ?? []).map((d) => d.system),
      ['guestnet-daemon, detach --all', 'cni-ptp, one DEL each'],
    );
    assert.ok(
      (results.throughput ?? []).every((t) => Number(t.ratio) > 0),
      'iperf3 measured nothing',
    );
    assert.ok((results.footprint ?? []).length >= 3);
    for (const heading of ['### Attach until the guest is online', '### Data path', '### Footprint', '### Targets'])
      assert.ok(stdout.includes(heading), heading);
  });

  it('counts the processes one attach starts, for guestnet and for ptp: guestnet starts at most 3', () => {
    assert.deepEqual(
      (results.processes ?? []).map((p) => p.system),
      ['guestnet-daemon and its guest agent', 'cni-ptp'],
    );
    const [guestnet, ptp] = (results.processes ?? []).map((p) => p.commands as string[]);
    assert.ok(
      guestnet?.some((c) => c.startsWith('ip -batch')),
      `the trace saw the daemon make the pair: ${JSON.stringify(guestnet)}`,
    );
    assert.ok((guestnet?.length ?? 99) <= 3, `a real trace of a daemon's attach and its guest agent's apply: ${JSON.stringify(guestnet)}`);
    assert.ok(
      ptp?.some((c) => c.includes('/usr/lib/cni/ptp')),
      `the trace saw ptp itself: ${JSON.stringify(ptp)}`,
    );
    assert.ok(stdout.includes('### Processes run by one attach'));
  });

  it("sets each of the issue's targets against what was measured", () => {
    assert.equal((results.targets ?? []).length, 17);
    const storm = (results.targets ?? []).filter((t) => /^storm of 2 guests/.test(String(t.target)));
    assert.equal(storm.length, 3);
    for (const t of storm) assert.ok(typeof t.measured === 'number' || t.note === 'not supported', String(t.target));
    assert.ok(
      (results.targets ?? []).some((t) => /^detach --all of \d+ guests/.test(String(t.target))),
      'the bulk detach target',
    );
    for (const t of results.targets ?? []) assert.equal(typeof t.met, 'boolean', String(t.target));
  });
});
