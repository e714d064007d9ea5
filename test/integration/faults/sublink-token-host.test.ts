import assert from 'node:assert/strict';
import { addLan, LAN } from '../../fixtures/lan.js';
import { HOST_AGENT, NODE, Sandbox } from '../../fixtures/sandbox.js';

// A macvlan for a waiting agent arrives in the guest under a one-time name,
// its token. It is made in the host's netns and moved, and every link event
// of the host's netns reaches any process there, unprivileged ones too (ip
// monitor needs no privilege). Only the guest's netns and root may read a
// token (protocol/README.md): none of those events may carry it.

describe("faults: a macvlan guest's one-time token never shows in the host's netns", function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  before(async () => {
    sandbox = await Sandbox.create();
    await addLan(sandbox);
  });
  after(async () => sandbox?.destroy());

  it("an unprivileged watcher of the host's link events sees no part of the token", async () => {
    const argv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'ip', '-d', 'monitor', 'link'];
    const watch = sandbox.serveIn(sandbox.hostNs, argv);
    watch.catch(() => {});
    let seen = '';
    watch.stdout?.on('data', (chunk: Buffer) => (seen += chunk));
    // The watcher is listening once it reports a change of its own making.
    for (let i = 0; i < 100 && !seen.includes('gnwatch'); i++) {
      await sandbox.host(['ip', 'link', 'add', 'gnwatch', 'type', 'veth', 'peer', 'name', 'gnwatch1']);
      await sandbox.host(['ip', 'link', 'del', 'gnwatch']);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(seen, /gnwatch/, 'the watcher hears link events');
    const guest = await sandbox.startGuest();
    const attached = await sandbox.host([
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
      '--guest-address',
      '192.168.77.51',
    ]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    const links = JSON.parse((await guest.exec(['ip', '-j', 'link', 'show', 'dev', 'wlan0'])).stdout) as Array<{ ifalias?: string }>;
    const name = /^guestnet:(gn[A-Za-z0-9]{13})$/.exec(links[0]?.ifalias ?? '')?.[1];
    assert.ok(name, `the guest's link carries a one-time token: ${JSON.stringify(links)}`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.includes(name.slice(2, 10)) || seen.includes(name.slice(7)), false, `the host's netns saw the token:\n${seen}`);
    assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    await guest.kill();
  });
});
