import assert from 'node:assert/strict';
import { type HostLinkWatcher, recordFirstName, recordToken, watchHostLinks } from '../../fixtures/host-link-watcher.js';
import { addLan, LAN } from '../../fixtures/lan.js';
import { type Guest, HOST_AGENT, NODE, Sandbox } from '../../fixtures/sandbox.js';

// A macvlan of a lasting name is made in the host's netns and moved into the guest's (one for a waiting agent is
// made in the guest's, under its one-time name), and every
// link event of the host's netns reaches any process there
// (fixtures/host-link-watcher.ts). Whatever token the link carries, the
// one-time name of a waiting agent, a token in its alias, or the new token of
// a rotation, none of those events may carry any part of it.

describe("faults: a macvlan guest's token never shows in the host's netns", function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let watcher: HostLinkWatcher;
  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
    watcher = await watchHostLinks(sandbox);
  });
  after(async () => sandbox?.destroy());
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
      'macvlan',
      '--link',
      'eth1',
      '--pool',
      LAN.subnet,
      '--gateway',
      LAN.router,
      ...args,
    ]);

  it('a waiting agent: the link arrives under its one-time name, which no event of the host shows', async () => {
    const guest = await sandbox.startGuest();
    const attached = await attach(guest, '--guest-address', '192.168.77.51');
    assert.equal(attached.exitCode, 0, attached.stderr);
    const links = JSON.parse((await guest.exec(['ip', '-j', 'link', 'show', 'dev', 'wlan0'])).stdout) as Array<{ ifalias?: string }>;
    const token = links[0]?.ifalias ?? '';
    const firstName = await recordFirstName(sandbox, guest.pid);
    // The kernel logged the one-time name as the agent renamed the link: the attach rotated the token away from it.
    assert.equal(token, await recordToken(sandbox, guest.pid), `the guest's link carries its record's token: ${JSON.stringify(links)}`);
    assert.notEqual(token, firstName, 'the token is still the name the kernel logged');
    await new Promise((r) => setTimeout(r, 300));
    watcher.assertNone([firstName, token]);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await guest.kill();
  });

  it('--no-wait: the token goes into the alias inside the guest only', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const attached = await attach(guest, '--guest-address', '192.168.77.52', '--no-wait');
    assert.equal(attached.exitCode, 0, attached.stderr);
    const token = await recordToken(sandbox, guest.pid);
    assert.match((await guest.exec(['ip', 'link', 'show', 'dev', 'vm_wlan0'])).stdout, new RegExp(`alias ${token}`));
    await new Promise((r) => setTimeout(r, 300));
    watcher.assertNone([token]);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await guest.kill();
  });

  it('a re-attach rotates inside the guest, and a link re-made after the rotation carries the new token there only', async () => {
    const guest = await sandbox.startGuest();
    const attached = await attach(guest, '--guest-address', '192.168.77.53');
    assert.equal(attached.exitCode, 0, attached.stderr);
    const first = await recordToken(sandbox, guest.pid);
    const reattached = await attach(guest, '--no-wait');
    assert.equal(reattached.exitCode, 0, reattached.stderr);
    const rotated = await recordToken(sandbox, guest.pid);
    assert.notEqual(rotated, first, 'a re-attach rotates the token');
    // The guest loses its link; a daemon that starts completes the attach, with the record's rotated token.
    assert.equal((await guest.exec(['ip', 'link', 'del', 'dev', 'wlan0'])).exitCode, 0);
    const daemon = await sandbox.startDaemon();
    let links: Array<{ ifalias?: string }> = [];
    for (let i = 0; i < 100 && !links.some((link) => link.ifalias === rotated); i++) {
      links = JSON.parse((await guest.exec(['ip', '-j', 'link', 'show'])).stdout);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(
      links.some((link) => link.ifalias === rotated),
      `the link is made again with the rotated token: ${JSON.stringify(links)}\n${daemon.output()}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    watcher.assertNone([first, rotated]);
    await daemon.stop();
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await guest.kill();
  });
});
