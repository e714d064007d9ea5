import assert from 'node:assert/strict';
import { addLan, LAN, lanSettled, seenOnLan } from '../../fixtures/lan.js';
import { type NicStandIn, nicStandIn } from '../../fixtures/nic-stand-in.js';
import { type Guest, Sandbox } from '../../fixtures/sandbox.js';

// The design's other network types, each on a LAN the host already has:
// no NAT, so the LAN's server sees the guest's own address, and after
// detach the host is byte-identical, links and addresses included. phys
// hands over only hardware, which a sandbox has none of: its eth2 stands in
// for a NIC (fixtures/nic-stand-in.ts, and phys-return.test.ts for the rest).

const ON_LAN = ['--pool', LAN.subnet, '--gateway', LAN.router];

describe('network types beside the routed veth, on a LAN', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let pristine: string;

  const attach = (guest: Guest, args: string[]) =>
    sandbox.host(['node', HOST_AGENT(), 'attach', String(guest.pid), '--socket', sandbox.socket, '--state-dir', sandbox.stateDir, ...args]);
  const detach = (guest: Guest) => sandbox.hostAgent(['detach', String(guest.pid)]);

  async function onlineAs(args: string[], address: string): Promise<Guest> {
    const guest = await sandbox.startGuest();
    const attached = await attach(guest, [...args, '--guest-address', address]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    let seen = '';
    for (let i = 0; i < 20 && seen !== address; i++) seen = await seenOnLan((argv) => guest.exec(argv), 500);
    assert.equal(seen, address, 'the LAN server should see the guest itself');
    return guest;
  }

  let nic: NicStandIn;
  let savedPath: string | undefined;

  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
    nic = await nicStandIn(sandbox);
    savedPath = process.env.PATH;
    process.env.PATH = nic.path;
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => {
    process.env.PATH = savedPath;
    await nic?.remove();
    await sandbox?.destroy();
  });
  afterEach(async () => {
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine, 'the host is not as it was');
  });

  it('veth on a bridge: the host end joins br0, the guest is on the LAN with its own address, detach removes only our port', async () => {
    const guest = await onlineAs(['--type', 'veth', '--link', 'br0', ...ON_LAN], '192.168.77.50');
    assert.match((await sandbox.host(['ip', 'link', 'show', 'master', 'br0'])).stdout, /vm_wlan.*lan1|lan1[\s\S]*vm_wlan/);
    const status = await sandbox.hostAgent(['status']);
    assert.match(status.stdout, new RegExp(`pid ${guest.pid}: veth on bridge br0`));
    const forward = await sandbox.hostAgent(['forward', String(guest.pid), '5555:5555']);
    assert.equal(forward.exitCode, 2);
    assert.match(forward.stderr, /port forwards are for routed guests/);
    const retyped = await attach(guest, ['--type', 'macvlan', '--link', 'eth1', ...ON_LAN]);
    assert.equal(retyped.exitCode, 2);
    assert.match(retyped.stderr, /already attached as veth on bridge br0; detach it first/);
    assert.equal((await detach(guest)).exitCode, 0);
    assert.equal((await detach(guest)).exitCode, 0, 'detach again changes nothing');
  });

  it('macvlan on eth1: made in the guest from its parent, deleted on detach', async () => {
    const guest = await onlineAs(['--type', 'macvlan', '--link', 'eth1', ...ON_LAN], '192.168.77.51');
    assert.match((await guest.exec(['ip', '-d', 'link', 'show', 'wlan0'])).stdout, /macvlan mode bridge/);
    assert.equal((await detach(guest)).exitCode, 0);
    assert.doesNotMatch((await guest.exec(['ip', 'link', 'show'])).stdout, /wlan0|vm_wlan0/);
  });

  it('macvlan for a waiting agent: made in the guest, it arrives there in one event, under its one-time name', async () => {
    const guest = await sandbox.startGuest();
    // The guest's netns is quiet until the attach; the monitor listens once it has started.
    const monitor = guest.exec(['timeout', '8', 'ip', '-o', 'monitor', 'link']);
    await new Promise((r) => setTimeout(r, 500));
    const attached = await attach(guest, ['--type', 'macvlan', '--link', 'eth1', ...ON_LAN, '--guest-address', '192.168.77.53']);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const heard = (await monitor).stdout;
    // Moved in, it would show first under the name it was made with, then renamed: two events, the first of another name.
    const [first] = heard.split('\n').filter((line) => /^\d+: /.test(line));
    assert.match(first ?? '', /^\d+: gn[A-Za-z0-9]{13}@/, `the first event of the guest's netns: ${heard}`);
    assert.equal((await detach(guest)).exitCode, 0);
  });

  it('macvlan: a re-attach makes again the link the guest lost, and changes nothing while it has it', async () => {
    const guest = await onlineAs(['--type', 'macvlan', '--link', 'eth1', ...ON_LAN], '192.168.77.52');
    const again = await attach(guest, ['--type', 'macvlan', '--link', 'eth1', '--no-wait', ...ON_LAN, '--guest-address', '192.168.77.52']);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match((await guest.exec(['ip', '-d', 'link', 'show', 'wlan0'])).stdout, /macvlan/, 'the link it has is kept');
    await guest.exec(['ip', 'link', 'del', 'wlan0']);
    const repaired = await attach(guest, [
      '--type',
      'macvlan',
      '--link',
      'eth1',
      '--no-wait',
      ...ON_LAN,
      '--guest-address',
      '192.168.77.52',
    ]);
    assert.equal(repaired.exitCode, 0, repaired.stderr);
    assert.match((await guest.exec(['ip', '-d', '-o', 'link', 'show'])).stdout, /macvlan/, 'the re-attach made the link again');
    assert.equal((await detach(guest)).exitCode, 0);
  });

  it('phys: eth2 moves into the guest and is renamed; detach gives it back under its name, with its address, up', async () => {
    const guest = await onlineAs(['--type', 'phys', '--link', 'eth2', ...ON_LAN], '192.168.77.52');
    assert.equal((await sandbox.host(['ip', 'link', 'show', 'eth2'])).exitCode, 1, 'eth2 is still on the host');
    assert.equal((await detach(guest)).exitCode, 0);
    assert.match(
      (await sandbox.host(['ip', 'address', 'show', 'eth2'])).stdout,
      new RegExp(`UP[\\s\\S]*inet ${LAN.eth2.replace(/\./g, '\\.')}/24`),
    );
  });

  it('phys refuses the interface of the default route unless --force', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const refused = await attach(guest, ['--type', 'phys', '--link', 'wlan0', ...ON_LAN]);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /carries the host's default route.*--force/);
    await guest.kill();
  });

  it("empty: the guest's loopback comes up and nothing else; none: only recorded, and status shows both", async () => {
    const empty = await sandbox.startGuest({ agent: false });
    const none = await sandbox.startGuest({ agent: false });
    assert.equal((await attach(empty, ['--type', 'empty'])).exitCode, 0);
    const attachedNone = await attach(none, ['--type', 'none']);
    assert.equal(attachedNone.exitCode, 0, attachedNone.stderr);
    assert.match(attachedNone.stdout, /nothing changed \(none\)/);
    const links = (await empty.exec(['ip', '-o', 'link', 'show'])).stdout.trim().split('\n');
    assert.equal(links.length, 1);
    assert.match(links[0] ?? '', /lo: <LOOPBACK,UP/);
    const status = (await sandbox.hostAgent(['status'])).stdout;
    assert.match(status, new RegExp(`pid ${empty.pid}: empty`));
    assert.match(status, new RegExp(`pid ${none.pid}: none`));
    for (const guest of [empty, none]) assert.equal((await detach(guest)).exitCode, 0);
    await Promise.all([empty.kill(), none.kill()]);
  });

  it('doctor tries the chosen type in a netns of its own, and names a missing kernel feature', async () => {
    const checks = async (args: string[]) => {
      const result = await sandbox.hostAgent(['doctor', '--json', '--socket', sandbox.socket, ...args]);
      return {
        exitCode: result.exitCode,
        findings: (JSON.parse(result.stdout) as { checks: Array<{ check: string; status: string; detail: string }> }).checks.filter(
          (f) => f.check === 'network type',
        ),
      };
    };
    const macvlan = await checks(['--type', 'macvlan', '--link', 'eth1']);
    assert.deepEqual(
      macvlan.findings.map((f) => [f.status, f.detail]),
      [
        ['ok', 'macvlan on eth1'],
        ['ok', 'macvlan links work'],
      ],
    );
    const vlan = await checks(['--type', 'vlan', '--link', 'eth1', '--vlan-id', '5']);
    const verdict = vlan.findings[1];
    if (verdict?.status === 'fail') {
      assert.equal(verdict.detail, 'this kernel has no vlan links (CONFIG_VLAN_8021Q)');
      assert.equal(vlan.exitCode, 14);
    } else assert.equal(verdict?.detail, 'vlan links work');
    const missing = await checks(['--type', 'macvlan', '--link', 'eth9']);
    assert.ok(missing.findings.some((f) => f.status === 'fail' && f.detail === '--link eth9 does not exist'));
  });

  for (const type of ['vlan', 'ipvlan']) {
    it(`${type} on a kernel without it: one line, exit 17, nothing changed`, async () => {
      const guest = await sandbox.startGuest({ agent: false });
      const result = await attach(guest, ['--type', type, '--link', 'eth1', ...(type === 'vlan' ? ['--vlan-id', '5'] : []), ...ON_LAN]);
      if (result.exitCode === 0) {
        // A kernel that has it: the guest is on the LAN as a real one would be.
        assert.equal((await detach(guest)).exitCode, 0);
      } else {
        assert.equal(result.exitCode, 17, result.stderr);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        assert.match(
          result.stderr,
          new RegExp(`this kernel has no ${type} links \\(CONFIG_${type === 'vlan' ? 'VLAN_8021Q' : 'IPVLAN'}\\); nothing was changed`),
        );
        assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
      }
      await guest.kill();
    });
  }
});

const HOST_AGENT = () => new URL('../../../../host-agent/bin/host-agent.js', import.meta.url).pathname;

describe('network types: crash recovery after kill -9 at each new step of attach', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let pristine: string;

  let nic: NicStandIn;
  let savedPath: string | undefined;

  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
    nic = await nicStandIn(sandbox);
    savedPath = process.env.PATH;
    process.env.PATH = nic.path;
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => {
    process.env.PATH = savedPath;
    await nic?.remove();
    await sandbox?.destroy();
  });

  const cases: Array<{ args: string[]; op: string; n: number; address: string }> = [
    { args: ['--type', 'veth', '--link', 'br0'], op: 'writeRecord', n: 1, address: '192.168.77.60' },
    { args: ['--type', 'veth', '--link', 'br0'], op: 'addPortGuard', n: 2, address: '192.168.77.67' },
    { args: ['--type', 'veth', '--link', 'br0'], op: 'createVeth', n: 3, address: '192.168.77.61' },
    { args: ['--type', 'macvlan', '--link', 'eth1'], op: 'writeRecord', n: 1, address: '192.168.77.65' },
    { args: ['--type', 'macvlan', '--link', 'eth1'], op: 'createSublink', n: 2, address: '192.168.77.62' },
    { args: ['--type', 'phys', '--link', 'eth2'], op: 'writeRecord', n: 1, address: '192.168.77.63' },
    { args: ['--type', 'phys', '--link', 'eth2'], op: 'movePhys', n: 2, address: '192.168.77.64' },
  ];
  for (const { args, op, n, address } of cases) {
    it(`${args[1]}${args[1] === 'veth' ? ' on a bridge' : ''}, killed after ${op}: a restart completes the attach, detach restores the host`, async () => {
      const dying = await sandbox.startDaemon(['--kill-after-op', String(n)]);
      const guest = await sandbox.startGuest();
      const result = await sandbox.host([
        'node',
        HOST_AGENT(),
        'attach',
        String(guest.pid),
        '--socket',
        sandbox.socket,
        '--state-dir',
        sandbox.stateDir,
        ...args,
        ...ON_LAN,
        '--guest-address',
        address,
      ]);
      assert.notEqual(result.exitCode, 0);
      assert.equal((await dying.stop()).signal, 'SIGKILL', 'the daemon should have died at the fault');
      const daemon = await sandbox.startDaemon();
      let seen = '';
      for (let i = 0; i < 40 && seen !== address; i++) seen = await seenOnLan((argv) => guest.exec(argv), 300);
      assert.equal(seen, address, 'the guest did not come online after recovery');
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      await daemon.stop();
      await guest.kill();
      await lanSettled(sandbox);
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  }

  it('empty, killed after writeRecord: a restart brings the loopback up, detach leaves the host as it was', async () => {
    const dying = await sandbox.startDaemon(['--kill-after-op', '1']);
    const guest = await sandbox.startGuest({ agent: false });
    const result = await sandbox.host([
      'node',
      HOST_AGENT(),
      'attach',
      String(guest.pid),
      '--socket',
      sandbox.socket,
      '--state-dir',
      sandbox.stateDir,
      '--type',
      'empty',
    ]);
    assert.notEqual(result.exitCode, 0);
    assert.equal((await dying.stop()).signal, 'SIGKILL', 'the daemon should have died at the fault');
    assert.match((await guest.exec(['ip', '-o', 'link', 'show', 'lo'])).stdout, /<LOOPBACK>/, 'the loopback came up before the fault');
    const daemon = await sandbox.startDaemon();
    assert.match((await guest.exec(['ip', '-o', 'link', 'show', 'lo'])).stdout, /<LOOPBACK,UP/);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await daemon.stop();
    await guest.kill();
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  // A real NIC whose netns dies is moved back by the kernel to the initial netns, under the
  // name it had inside (dev<ifindex> if that is taken) and still tagged; a veth, the only NIC a sandbox has, dies with the
  // netns instead. So the test makes that move itself, into the sandbox host, just before
  // the guest dies: what the daemon then finds is what the kernel would leave.
  it('phys, the guest dies and its NIC comes back under another name: the daemon renames it and restores it', async () => {
    const daemon = await sandbox.startDaemon();
    const guest = await sandbox.startGuest();
    const attached = await sandbox.host([
      'node',
      HOST_AGENT(),
      'attach',
      String(guest.pid),
      '--socket',
      sandbox.socket,
      '--state-dir',
      sandbox.stateDir,
      '--type',
      'phys',
      '--link',
      'eth2',
      ...ON_LAN,
      '--guest-address',
      '192.168.77.66',
    ]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    // The host has a wlan0 of its own, so the kernel would name it dev<ifindex>.
    const ifindex = JSON.parse((await guest.exec(['ip', '-j', 'link', 'show', 'dev', 'wlan0'])).stdout)[0].ifindex;
    const moved = await guest.exec(['ip', 'link', 'set', 'dev', 'wlan0', 'netns', `/run/netns/${sandbox.hostNs}`, 'name', `dev${ifindex}`]);
    assert.equal(moved.exitCode, 0, moved.stderr);
    await guest.kill();
    let shown = '';
    for (let i = 0; i < 100 && !/UP[\s\S]*inet 192\.168\.77\.10\/24/.test(shown); i++) {
      await new Promise((r) => setTimeout(r, 100));
      shown = (await sandbox.host(['ip', 'address', 'show', 'dev', 'eth2'])).stdout;
    }
    assert.match(shown, new RegExp(`UP[\\s\\S]*inet ${LAN.eth2.replace(/\./g, '\\.')}/24`), 'eth2 was not given back');
    assert.equal(
      (await sandbox.host(['ip', 'link', 'show', 'dev', `dev${ifindex}`])).exitCode,
      1,
      'the name it came back under is still on the host',
    );
    for (let i = 0; i < 50 && JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    await daemon.stop();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
