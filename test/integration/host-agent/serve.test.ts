import assert from 'node:assert/strict';
import { ExitCode } from '@guestnet/protocol';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Daemon, type Guest, HOST_AGENT, Sandbox, SERVER, SETTLE_GUARD_MS, tcpProbeScript, UPLINK } from '../../fixtures/sandbox.js';

const GUESTS = 50;
const CONCURRENT = 10;

interface StatusGuest {
  pid: number;
  hostIf: string;
  guestIf: string;
  address: string;
  gateway: string;
  state: string;
  agent: string;
}

async function statusOf(sandbox: Sandbox): Promise<StatusGuest[]> {
  const result = await sandbox.hostAgent(['status', '--json']);
  assert.equal(result.exitCode, 0, result.stderr);
  return JSON.parse(result.stdout).guests;
}

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > deadlineMs) throw new Error(`${what} did not happen within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('host-agent serve: many guests under one daemon', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  let daemon: Daemon;
  let pristine: string;
  const guests: Guest[] = [];

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
    daemon = await sandbox.startDaemon();
  });
  after(async () => sandbox?.destroy());

  it('refuses a second serve for the same state dir, and never steals its socket', async () => {
    const second = await sandbox.host(['node', HOST_AGENT, 'serve', '--state-dir', sandbox.stateDir, '--socket', `${sandbox.socket}.2`]);
    assert.equal(second.exitCode, ExitCode.socketBusy);
    assert.match(second.stderr, new RegExp(`host-agent serve \\(pid ${daemon.pid}\\) already serves`));
    assert.deepEqual(await statusOf(sandbox), []);
  });

  it(`attaches ${GUESTS} guests, ${CONCURRENT} at a time, all confirmed by their agents`, async () => {
    for (let i = 0; i < GUESTS; i++) guests.push(await sandbox.startGuest());
    for (let i = 0; i < GUESTS; i += CONCURRENT) {
      const batch = guests.slice(i, i + CONCURRENT);
      const results = await Promise.all(batch.map((g) => sandbox.hostAgent(['attach', String(g.pid), '--json'])));
      for (const result of results) {
        assert.equal(result.exitCode, 0, result.stderr);
        assert.equal(JSON.parse(result.stdout).guest.state.name, 'wlan0');
      }
    }
  });

  it('gives every guest a unique address and host link, and all of them are online through NAT', async () => {
    const status = await statusOf(sandbox);
    assert.equal(status.length, GUESTS);
    assert.equal(new Set(status.map((g) => g.address)).size, GUESTS);
    assert.equal(new Set(status.map((g) => g.hostIf)).size, GUESTS);
    assert.ok(
      status.some((g) => g.address === '172.17.3.3' && g.hostIf === 'vm_wlan'),
      'the first guest keeps the design layout',
    );
    const seen = await Promise.all(guests.map((g) => sandbox.fetchFromGuest(g)));
    assert.deepEqual(new Set(seen.map((r) => r.stdout.trim())), new Set([UPLINK.hostAddress]));
  });

  it('status --json has the documented fields, and the table reads in a shell', async () => {
    const [first] = await statusOf(sandbox);
    for (const key of ['pid', 'hostIf', 'guestIf', 'address', 'gateway', 'state']) assert.ok(first && key in first, key);
    assert.equal(first?.state, 'alive');
    assert.equal(first?.agent, 'connected');
    // Every column with --wide; through a pipe, what fits 80 columns.
    const table = await sandbox.hostAgent(['status', '--wide']);
    assert.match(
      table.stdout,
      /^GUEST\s+STATE\s+HOST-IF\s+GUEST-IF\s+ADDRESS\s+GATEWAY\s+UPLINK\s+AGENT\s+LAST-APPLY\s+FROM-GUEST\s+TO-GUEST\s+FORWARDS$/m,
    );
    assert.match(table.stdout, /alive\s+vm_wlan\s+wlan0\s+172\.17\.3\.3\/16\s+172\.17\.3\.2\s+wlan0\s+connected\s+ok /);
    const narrow = (await sandbox.hostAgent(['status'])).stdout.split('\n');
    assert.equal(narrow.filter((line) => /^\d+ +alive /.test(line)).length, GUESTS);
    assert.ok(narrow.every((line) => line.length <= 80));
  });

  it('reaps killed guests on its own, with nothing asked: link, rules and lease', async () => {
    const doomed = guests.splice(0, 5);
    const pids = new Set(doomed.map((g) => g.pid));
    const doomedLinks = (await statusOf(sandbox)).filter((g) => pids.has(g.pid)).map((g) => g.hostIf);
    assert.equal(doomedLinks.length, 5);
    await Promise.all(doomed.map((g) => g.kill()));
    // How fast is the bench's to say; this only keeps a daemon that never reaps from hanging the suite.
    await until('reaping', 30_000, async () => ((await statusOf(sandbox)).some((g) => pids.has(g.pid)) ? undefined : true));
    const elements = (await sandbox.host(['nft', '-j', 'list', 'set', 'ip', 'guestnet', 'guest_links'])).stdout;
    const remaining: string[] = JSON.parse(elements).nftables.find((i: { set?: unknown }) => i.set).set.elem;
    assert.equal(remaining.length, GUESTS - 5);
    for (const link of doomedLinks) assert.ok(!remaining.includes(link), `${link} still has rules`);
    const links = (await sandbox.host(['ip', '-br', 'link'])).stdout;
    for (const link of doomedLinks) assert.doesNotMatch(links, new RegExp(`^${link}@`, 'm'));
  });

  it('restarts (SIGTERM, then a new daemon) while a guest stays online throughout, and the agents reconnect', async () => {
    // The probe runs from before the stop until the new daemon's agents are back, however long that takes.
    const stopFile = join(sandbox.dir, 'probe-stop');
    const probe = (guests[0] as Guest).exec(['node', '-e', tcpProbeScript(SERVER.address, SERVER.port, SETTLE_GUARD_MS, stopFile)]);
    await new Promise((r) => setTimeout(r, 500));
    const ended = await daemon.stop('SIGTERM');
    assert.equal(ended.exitCode, 0, daemon.output());
    await new Promise((r) => setTimeout(r, 500));
    daemon = await sandbox.startDaemon();
    const status = await until('agents reconnecting', SETTLE_GUARD_MS, async () => {
      const s = await statusOf(sandbox);
      return s.every((g) => g.agent === 'connected') ? s : undefined;
    });
    assert.equal(status.length, GUESTS - 5);
    await new Promise((r) => setTimeout(r, 500));
    await writeFile(stopFile, '');
    const [ok, failed] = (await probe).stdout.trim().split(' ').map(Number);
    assert.equal(failed, 0, `${failed} of ${Number(ok) + Number(failed)} connections failed across the restart`);
    assert.ok(Number(ok) > 0, 'the probe made no connection');
  });

  it('detaching every guest leaves the host exactly as before', async () => {
    for (let i = 0; i < guests.length; i += CONCURRENT) {
      const results = await Promise.all(guests.slice(i, i + CONCURRENT).map((g) => sandbox.hostAgent(['detach', String(g.pid)])));
      for (const result of results) assert.equal(result.exitCode, 0, result.stderr);
    }
    assert.deepEqual(await statusOf(sandbox), []);
    await daemon.stop('SIGTERM');
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
