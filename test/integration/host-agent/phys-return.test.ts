import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { addLan, LAN, lanSettled } from '../../fixtures/lan.js';
import { type NicStandIn, nicStandIn } from '../../fixtures/nic-stand-in.js';
import { type Guest, HOST_AGENT, Sandbox } from '../../fixtures/sandbox.js';

// A phys guest holds a real NIC of the host's, and it is hostile: it may
// rename the NIC, hide it, or put a link of its own under the NIC's name.
// Detach gives back only the NIC, found by what the kernel says of it, and
// restores the saved addresses, MTU and state onto it alone. See
// fixtures/nic-stand-in.ts for how a sandbox veth stands in for the NIC.

const ON_LAN = ['--pool', LAN.subnet, '--gateway', LAN.router];

describe('phys: only the NIC comes back, and only the NIC is restored', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let nic: NicStandIn;
  let pristine: string;
  let savedPath: string | undefined;
  const holders: ResultPromise[] = [];

  const attach = (guest: Guest, link = 'eth2') =>
    sandbox.host([
      'node',
      HOST_AGENT,
      'attach',
      String(guest.pid),
      '--socket',
      sandbox.socket,
      '--state-dir',
      sandbox.stateDir,
      '--no-wait',
      '--type',
      'phys',
      '--link',
      link,
      ...ON_LAN,
      '--guest-address',
      '192.168.77.70',
    ]);
  const detach = (guest: Guest) => sandbox.hostAgent(['detach', String(guest.pid)]);
  const recordFile = (guest: Guest) => join(sandbox.stateDir, 'attachments', `${guest.pid}.json`);
  const attached = async (guest: Guest) => {
    const result = await attach(guest);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal((await guest.exec(['ip', 'link', 'show', 'dev', 'vm_wlan0'])).exitCode, 0, 'the NIC is in the guest');
  };
  /** What the host shows of eth2: the NIC itself (the stand-in reports it with a parent device), or something else. */
  const hostEth2 = async () => JSON.parse((await sandbox.host(['ip', '-d', '-j', 'address', 'show', 'dev', 'eth2'])).stdout || '[]')[0];

  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
    nic = await nicStandIn(sandbox);
    savedPath = process.env.PATH;
    process.env.PATH = nic.path;
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => {
    for (const holder of holders) holder.kill('SIGKILL');
    await Promise.allSettled(holders);
    process.env.PATH = savedPath;
    await nic?.remove();
    await sandbox?.destroy();
  });

  it('refuses a link that is not a NIC: a veth is reported as one, and nothing changes', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const result = await sandbox.host([
      'env',
      `PATH=${savedPath}`,
      'node',
      HOST_AGENT,
      'attach',
      String(guest.pid),
      '--state-dir',
      sandbox.stateDir,
      '--no-wait',
      '--type',
      'phys',
      '--link',
      'eth1',
      ...ON_LAN,
    ]);
    assert.equal(result.exitCode, 2, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /--link eth1 is not a NIC: the kernel shows a veth link/);
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    assert.equal(await sandbox.hostSnapshot(), pristine);
    await guest.kill();
  });

  it('a guest that renames the NIC and plants a veth under its name gets only the NIC taken back', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    await attached(guest);
    const planted = await guest.exec([
      'sh',
      '-c',
      'ip link set dev vm_wlan0 down && ip link set dev vm_wlan0 name keepme alias mine && ' +
        `ip link add wlan0 type veth peer name wlan0p && ip address add ${LAN.eth2}/24 dev wlan0 && ip link set dev wlan0 up`,
    ]);
    assert.equal(planted.exitCode, 0, planted.stderr);
    const result = await detach(guest);
    assert.equal(result.exitCode, 0, result.stderr);
    const eth2 = await hostEth2();
    assert.equal(eth2?.parentdev, 'nic0', 'the host got back something other than its NIC');
    assert.ok(eth2.flags.includes('UP'));
    assert.deepEqual(
      eth2.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string }) => a.local),
      [LAN.eth2],
    );
    assert.equal((await guest.exec(['ip', 'link', 'show', 'dev', 'wlan0'])).exitCode, 0, 'the planted veth stays in the guest');
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('a guest that plants a link under our passing name (it follows from the pid) gets only the NIC taken back', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    await attached(guest);
    const passing = `gn${createHash('sha256').update(String(guest.pid)).digest('hex').slice(0, 12)}`;
    const planted = await guest.exec(['ip', 'link', 'add', passing, 'type', 'veth', 'peer', 'name', 'gnpeer']);
    assert.equal(planted.exitCode, 0, planted.stderr);
    const result = await detach(guest);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal((await hostEth2())?.parentdev, 'nic0', 'the NIC is back');
    assert.equal((await guest.exec(['ip', 'link', 'show', 'dev', passing])).exitCode, 0, 'the planted veth stays in the guest');
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  // The handover moves the NIC and renames it in one message, and the kernel moves it before it renames it: a
  // guest that holds a link of the NIC's name-to-be gets the move without the rename, and the attach fails.
  it('a guest that squats the name the NIC is to take: the failed attach keeps the NIC ours, and detach takes it back', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const squat = await guest.exec(['ip', 'link', 'add', 'vm_wlan0', 'type', 'veth', 'peer', 'name', 'wlan0']);
    assert.equal(squat.exitCode, 0, squat.stderr);
    const failed = await attach(guest);
    assert.notEqual(failed.exitCode, 0, 'the attach fails');
    if ((await hostEth2())?.parentdev !== 'nic0') {
      const result = await detach(guest);
      assert.equal(result.exitCode, 0, result.stderr);
    }
    assert.equal((await hostEth2())?.parentdev, 'nic0', 'the NIC stayed with the guest, and no record is left to take it back');
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('a guest that withholds the NIC: detach says so, exits non-zero, keeps the record and changes nothing; it succeeds once the NIC is back', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    await attached(guest);
    const withNic = await sandbox.hostSnapshot();
    // The guest hides the NIC in a netns of its own and plants a veth under both of the NIC's names.
    const holder = execa('unshare', ['--net', 'sleep', '600']);
    holder.catch(() => {});
    holders.push(holder);
    let hidden = { exitCode: -1, stderr: '' };
    for (let i = 0; i < 100 && hidden.exitCode !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      hidden = await guest.exec(['ip', 'link', 'set', 'dev', 'vm_wlan0', 'netns', String(holder.pid)]);
    }
    assert.equal(hidden.exitCode, 0, hidden.stderr);
    const planted = await guest.exec([
      'sh',
      '-c',
      'ip link add wlan0 type veth peer name vm_wlan0 && ip link set dev wlan0 up && ip link set dev vm_wlan0 up',
    ]);
    assert.equal(planted.exitCode, 0, planted.stderr);
    const refused = await detach(guest);
    assert.equal(refused.exitCode, 18, refused.stderr);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /NIC withheld by the guest/);
    assert.equal(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.length, 1, 'the record is kept');
    assert.equal(await sandbox.hostSnapshot(), withNic, 'a host link was changed');
    assert.equal((await guest.exec(['ip', 'link', 'show', 'dev', 'wlan0'])).exitCode, 0);
    // Given back, the NIC comes home.
    const back = await execa(
      'nsenter',
      [`--net=/proc/${holder.pid}/ns/net`, 'ip', 'link', 'set', 'dev', 'vm_wlan0', 'netns', String(guest.pid), 'name', 'back'],
      {
        reject: false,
      },
    );
    assert.equal(back.exitCode, 0, back.stderr);
    const result = await detach(guest);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal((await hostEth2())?.parentdev, 'nic0');
    holder.kill('SIGKILL');
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it("a daemon restarted while a waiting attach's guest withholds the NIC still starts, and keeps the record", async () => {
    const dying = await sandbox.startDaemon();
    const guest = await sandbox.startGuest({ agent: false });
    // Through the daemon, waiting for a guest agent that never comes: the record says it waits.
    const waiting = sandbox.host([
      'node',
      HOST_AGENT,
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
      '--timeout',
      '60000',
    ]);
    let marked = false;
    // A waiting attach's NIC arrives under its one-time name, which the record keeps.
    let arrivedAs = '';
    for (let i = 0; i < 200 && !marked; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const record = await readFile(recordFile(guest), 'utf8').then(JSON.parse, () => undefined);
      marked = record?.awaitingGuest === true;
      arrivedAs = record?.guestIf ?? '';
    }
    assert.ok(marked, 'the attach never waited for its guest');
    assert.equal((await dying.stop('SIGKILL')).signal, 'SIGKILL');
    assert.notEqual((await waiting).exitCode, 0);
    const holder = execa('unshare', ['--net', 'sleep', '600']);
    holder.catch(() => {});
    holders.push(holder);
    let hidden = { exitCode: -1, stderr: '' };
    for (let i = 0; i < 100 && hidden.exitCode !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      hidden = await guest.exec(['ip', 'link', 'set', 'dev', arrivedAs, 'netns', String(holder.pid)]);
    }
    assert.equal(hidden.exitCode, 0, hidden.stderr);
    const daemon = await sandbox.startDaemon();
    assert.equal(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests.length, 1, 'the record is kept');
    assert.equal((await detach(guest)).exitCode, 18);
    const back = await execa(
      'nsenter',
      [`--net=/proc/${holder.pid}/ns/net`, 'ip', 'link', 'set', 'dev', arrivedAs, 'netns', String(guest.pid)],
      {
        reject: false,
      },
    );
    assert.equal(back.exitCode, 0, back.stderr);
    assert.equal((await detach(guest)).exitCode, 0);
    holder.kill('SIGKILL');
    await daemon.stop();
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('a damaged record that names the uplink never touches the uplink', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    await attached(guest);
    const withNic = await sandbox.hostSnapshot();
    const original = await readFile(recordFile(guest), 'utf8');
    const record = JSON.parse(original);
    const damaged = {
      ...record,
      link: 'wlan0',
      hostIf: 'wlan0',
      uplink: 'wlan0',
      phys: { ...record.phys, mtu: 600, addresses: [...record.phys.addresses, '10.66.0.1/24'] },
    };
    await writeFile(recordFile(guest), JSON.stringify(damaged));
    const refused = await detach(guest);
    assert.equal(refused.exitCode, 7, 'detach went on with a record that names the uplink');
    assert.match(refused.stderr, /wlan0 is another link on the host now \(the uplink\): the NIC of pid \d+ stays in the guest/);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.equal(await sandbox.hostSnapshot(), withNic, 'a host link was changed');
    await writeFile(recordFile(guest), original);
    const result = await detach(guest);
    assert.equal(result.exitCode, 0, result.stderr);
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });
});
