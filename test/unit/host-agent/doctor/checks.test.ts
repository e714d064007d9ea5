import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { doctorChecks, RecordingRunner, resolveSettings, type Step } from '@guestnet/host-agent';
import { CommandFailedError } from '@guestnet/protocol';

// The doctor's checks, each against a recording runner: what makes a finding
// fail, warn or pass, and that a probe never touches the host.

const ruleset = (...items: object[]) => JSON.stringify({ nftables: items });
const forwardChain = (family: string, table: string, policy: string) => ({
  chain: { family, table, name: 'forward', hook: 'forward', policy },
});

describe('doctor/checks: what each finding says', () => {
  let stateDir: string;
  beforeEach(async () => (stateDir = await mkdtemp(join(tmpdir(), 'guestnet-unit-'))));
  afterEach(async () => rm(stateDir, { recursive: true, force: true }));
  const settings = (flags: Record<string, unknown> = {}) => ({
    ...resolveSettings({}, { firewall: 'nftables', ...flags }, 'test'),
    stateDir,
    socket: join(stateDir, 'run', 'guestnet.sock'),
  });
  const forward = (text: string | undefined, flags: Record<string, unknown> = {}) =>
    doctorChecks.forwardDrop(settings(flags), new RecordingRunner(text === undefined ? {} : { 'nft -j list ruleset': text }));

  describe('forwardDrop', () => {
    it('fails where another table drops forwarded IPv4 by policy: no accept of ours can override it', async () => {
      const [finding] = await forward(ruleset(forwardChain('inet', 'filter', 'drop')));
      assert.equal(finding?.status, 'fail');
      assert.match(finding?.detail ?? '', /^inet filter forward has policy drop: .*any drop is final/);
      assert.match(finding?.fix ?? '', /nft insert rule inet filter forward iifname "vm_wlan\*" accept/);
    });

    it('only warns of a table that drops IPv6 alone, and of drop rules that may match guests', async () => {
      assert.equal((await forward(ruleset(forwardChain('ip6', 'filter', 'drop'))))[0]?.status, 'warn');
      const dropRule = { rule: { family: 'inet', table: 'fw', chain: 'forward', expr: [{ drop: null }] } };
      const [finding] = await forward(ruleset(forwardChain('inet', 'fw', 'accept'), dropRule));
      assert.deepEqual([finding?.status, /1 drop rule/.test(finding?.detail ?? '')], ['warn', true]);
    });

    it("ignores guestnet's own table, and iptables-nft's FORWARD where guestnet's jump comes first", async () => {
      assert.deepEqual(await forward(ruleset(forwardChain('ip', 'guestnet', 'drop'))), [
        { check: 'forward', status: 'ok', detail: 'no other firewall drops forwarded traffic' },
      ]);
      const iptablesNft = { chain: { family: 'ip', table: 'filter', name: 'FORWARD', hook: 'forward', policy: 'drop' } };
      assert.equal((await forward(ruleset(iptablesNft), { firewall: 'iptables' }))[0]?.status, 'ok');
      assert.equal((await forward(ruleset(iptablesNft), { firewall: 'nftables' }))[0]?.status, 'fail');
    });

    it('warns, never passes, when the ruleset cannot be read', async () => {
      assert.deepEqual(
        (await forward(undefined)).map((f) => f.status),
        ['warn'],
      );
    });
  });

  it('uplink: the configured one, else the default route, else a failure saying how to give one', async () => {
    const routes = (json: string) => new RecordingRunner({ 'ip -4 -j route show': json });
    assert.equal((await doctorChecks.uplink(settings({ uplink: 'rmnet0' }), routes('[]')))[0]?.detail, 'rmnet0 (configured)');
    const viaDefault = routes(JSON.stringify([{ dst: 'default', dev: 'wlan0' }]));
    assert.equal((await doctorChecks.uplink(settings(), viaDefault))[0]?.detail, 'wlan0 (default route)');
    assert.equal((await doctorChecks.uplink(settings(), routes('[]')))[0]?.status, 'fail');
  });

  it("subnet: fails on a host route inside the pool, naming it; guests' own routes do not count", async () => {
    const routes = [
      { dst: '172.17.9.0/24', dev: 'docker0' },
      { dst: '172.17.3.3', dev: 'vm_wlan' },
      { dst: 'default', dev: 'wlan0' },
    ];
    const findings = await doctorChecks.subnet(settings(), new RecordingRunner({ 'ip -4 -j route show': JSON.stringify(routes) }));
    assert.deepEqual(
      findings.map((f) => [f.status, f.detail]),
      [['fail', 'the guest pool 172.17.0.0/16 overlaps the host route 172.17.9.0/24 dev docker0']],
    );
  });

  it('permissions: fails a state dir others can read or root does not own, and passes one not made yet', async () => {
    const [, socketDir] = await doctorChecks.permissions(settings(), new RecordingRunner());
    assert.deepEqual([socketDir?.status, /does not exist yet; it will be created 0700$/.test(socketDir?.detail ?? '')], ['ok', true]);
    await chmod(stateDir, 0o755);
    const open = await doctorChecks.permissions(settings(), new RecordingRunner());
    assert.equal(open[0]?.status, 'fail');
    assert.match(open[0]?.fix ?? '', /chmod 700/);
    await mkdir(join(stateDir, 'run'), { mode: 0o700 });
    await chmod(stateDir, 0o700);
    const rootOnly = process.getuid?.() === 0 ? 'ok' : 'fail';
    assert.deepEqual(
      (await doctorChecks.permissions(settings(), new RecordingRunner())).map((f) => f.status),
      [rootOnly, rootOnly],
      'mode 0700, and owned by root only where the test runs as root',
    );
  });

  it('kernel: tries each feature in a brand-new netns, and names the one that fails', async () => {
    const runner = new RecordingRunner();
    const works = await doctorChecks.kernel(settings(), runner);
    assert.deepEqual(
      works.map((f) => f.status),
      ['ok', 'ok'],
    );
    for (const step of runner.steps) assert.deepEqual(step.kind === 'run' ? step.argv.slice(0, 2) : [], ['unshare', '--net']);
    class NoNat extends RecordingRunner {
      override async perform(step: Step): Promise<void> {
        if (step.kind === 'run' && step.argv.includes('nft')) throw new CommandFailedError(step.argv, 'Error: Could not process rule', 1);
      }
    }
    const failing = await doctorChecks.kernel(settings(), new NoNat());
    assert.deepEqual(
      failing.map((f) => f.status),
      ['ok', 'fail'],
    );
    assert.match(failing[1]?.detail ?? '', /^nat and conntrack is not available: /);
  });

  it('dns: fixed resolvers need no free port 53', async () => {
    assert.deepEqual(await doctorChecks.dns(settings({ dns: '192.0.2.53' }), new RecordingRunner()), [
      { check: 'dns', status: 'ok', detail: 'guests get the fixed resolvers 192.0.2.53' },
    ]);
  });
});
