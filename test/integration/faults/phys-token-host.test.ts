import assert from 'node:assert/strict';
import { type HostLinkWatcher, recordFirstName, recordToken, watchHostLinks } from '../../fixtures/host-link-watcher.js';
import { addLan, LAN, lanSettled } from '../../fixtures/lan.js';
import { type NicStandIn, nicStandIn } from '../../fixtures/nic-stand-in.js';
import { type Guest, HOST_AGENT, NODE, Sandbox } from '../../fixtures/sandbox.js';

// A phys guest's NIC is a link of the host's netns until it moves, and every
// link event of the host's netns reaches any process there
// (fixtures/host-link-watcher.ts). The token it carries into the guest, in its
// alias or as its one-time name, must be set only once the NIC is in the
// guest's netns: no event of the host's may carry any part of it. Its
// detach still gives the NIC back (phys-return.test.ts holds the rest).

describe("faults: a phys guest's token never shows in the host's netns", function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let nic: NicStandIn;
  let savedPath: string | undefined;
  let watcher: HostLinkWatcher;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
    // Before the stand-in's ip comes first on PATH: its directory is root's alone.
    watcher = await watchHostLinks(sandbox);
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
  beforeEach(() => watcher.clear());

  const attach = (guest: Guest, ...args: string[]) =>
    sandbox.host([
      NODE,
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
      '--pool',
      LAN.subnet,
      '--gateway',
      LAN.router,
      '--guest-address',
      '192.168.77.54',
      ...args,
    ]);

  const detached = async (guest: Guest) => {
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine, 'the NIC is back as it was');
  };

  it('a waiting agent: the NIC arrives under its one-time name, which no event of the host shows', async () => {
    const guest = await sandbox.startGuest();
    const attached = await attach(guest);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const links = JSON.parse((await guest.exec(['ip', '-j', 'link', 'show', 'dev', 'wlan0'])).stdout) as Array<{ ifalias?: string }>;
    const token = links[0]?.ifalias ?? '';
    const firstName = await recordFirstName(sandbox, guest.pid);
    // The kernel logged the one-time name as the agent renamed the link: the attach rotated the token away from it.
    assert.equal(token, await recordToken(sandbox, guest.pid), `the NIC carries its record's token: ${JSON.stringify(links)}`);
    assert.notEqual(token, firstName, 'the token is still the name the kernel logged');
    await new Promise((r) => setTimeout(r, 300));
    watcher.assertNone([firstName, token]);
    await detached(guest);
  });

  it('--no-wait: the token goes into the alias inside the guest only', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const attached = await attach(guest, '--no-wait');
    assert.equal(attached.exitCode, 0, attached.stderr);
    const token = await recordToken(sandbox, guest.pid);
    assert.match((await guest.exec(['ip', 'link', 'show', 'dev', 'vm_wlan0'])).stdout, new RegExp(`alias ${token}`));
    await new Promise((r) => setTimeout(r, 300));
    watcher.assertNone([token]);
    await detached(guest);
  });

  // Detach and rollback fetch the NIC back into the host's netns: it must not bring the token or the guest's
  // name for it along, which the kernel keeps on a link that changes netns.
  it('detach: the NIC comes back to the host without its token in any event', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const attached = await attach(guest, '--no-wait');
    assert.equal(attached.exitCode, 0, attached.stderr);
    const token = await recordToken(sandbox, guest.pid);
    watcher.clear();
    await detached(guest);
    await new Promise((r) => setTimeout(r, 300));
    watcher.assertNone([token]);
  });

  it('a waiting attach rolled back: the NIC comes back without its one-time name', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const attached = await attach(guest, '--timeout', '1500');
    assert.equal(attached.exitCode, 10, attached.stderr);
    await new Promise((r) => setTimeout(r, 300));
    const oneTime = /\bgn[A-Za-z0-9]{13}\b/.exec(watcher.seen())?.[0];
    assert.equal(oneTime, undefined, `the host's netns saw the one-time name ${oneTime}:\n${watcher.seen()}`);
    await guest.kill();
    await lanSettled(sandbox);
    assert.equal(await sandbox.hostSnapshot(), pristine, 'the NIC is back as it was');
  });
});
