import assert from 'node:assert/strict';
import { addLan, LAN, seenOnLan } from '../../fixtures/lan.js';
import { type Daemon, HOST_AGENT, NODE, Sandbox } from '../../fixtures/sandbox.js';

// A macvlan guest is removed by deleting guestnet's link group in its netns.
// The guest is root there and may put lo, which the kernel cannot delete,
// into that group: the kernel then refuses the group's delete as a whole,
// and the guest would keep its macvlan on the host's LAN after detach.

const HOST_LINK_GROUP = '26478';
const ON_LAN = ['--pool', LAN.subnet, '--gateway', LAN.router];

describe("faults: a macvlan guest that puts lo into guestnet's link group", function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let daemon: Daemon;

  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
    daemon = await sandbox.startDaemon();
  });
  after(async () => {
    await daemon?.stop();
    await sandbox?.destroy();
  });

  it('is still taken off the LAN by detach, and no record is left', async () => {
    const guest = await sandbox.startGuest();
    const address = '192.168.77.51';
    const attach = ['attach', String(guest.pid), '--socket', sandbox.socket, '--state-dir', sandbox.stateDir];
    const attached = await sandbox.host([
      NODE,
      HOST_AGENT,
      ...attach,
      '--type',
      'macvlan',
      '--link',
      'eth1',
      ...ON_LAN,
      '--guest-address',
      address,
    ]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    let seen = '';
    for (let i = 0; i < 20 && seen !== address; i++) seen = await seenOnLan((argv) => guest.exec(argv), 500);
    assert.equal(seen, address);
    assert.equal((await guest.exec(['ip', 'link', 'set', 'dev', 'lo', 'group', HOST_LINK_GROUP])).exitCode, 0);
    const detached = await sandbox.hostAgent(['detach', String(guest.pid)]);
    assert.equal(detached.exitCode, 0, detached.stderr);
    assert.doesNotMatch((await guest.exec(['ip', '-d', 'link', 'show'])).stdout, /macvlan/, 'the guest keeps its macvlan');
    assert.deepEqual(JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout).guests, []);
    await guest.kill();
  });
});
