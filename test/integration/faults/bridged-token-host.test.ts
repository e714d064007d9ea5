import assert from 'node:assert/strict';
import { type HostLinkWatcher, recordFirstName, recordToken, watchHostLinks } from '../../fixtures/host-link-watcher.js';
import { addLan, LAN } from '../../fixtures/lan.js';
import { HOST_AGENT, NODE, Sandbox } from '../../fixtures/sandbox.js';

// A bridged guest's pair is made by one host process, its guest end created
// in the guest's netns under the one-time name of a waiting agent, as a
// routed guest's is. Every link event of the host's netns reaches any process
// there (fixtures/host-link-watcher.ts): none of them may carry any part of
// that name, which is the guest's token until its agent renames the link.

describe("faults: a bridged guest's token never shows in the host's netns", function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let watcher: HostLinkWatcher;
  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
    watcher = await watchHostLinks(sandbox);
  });
  after(async () => sandbox?.destroy());

  it('a waiting agent: its link arrives under its one-time name, which no event of the host shows', async () => {
    const guest = await sandbox.startGuest();
    const attached = await sandbox.host([
      NODE,
      HOST_AGENT,
      'attach',
      String(guest.pid),
      ...['--socket', sandbox.socket, '--state-dir', sandbox.stateDir],
      ...['--type', 'veth', '--link', 'br0', '--pool', LAN.subnet, '--gateway', LAN.router, '--guest-address', '192.168.77.54'],
    ]);
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
});
