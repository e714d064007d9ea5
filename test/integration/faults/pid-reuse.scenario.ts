import assert from 'node:assert/strict';
import { readlink } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { NODE, Sandbox } from '../../fixtures/sandbox.js';

// Run by pid-reuse.test.ts in a pid namespace of its own, never alone: the
// hostile guest writes that namespace's ns_last_pid.

const REUSER = fileURLToPath(new URL('./pid-reuser.js', import.meta.url));

describe("faults: a guest's token rotated through its attached pid, reused by a host process", function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  before(async () => {
    const outer = process.env.GUESTNET_OUTER_PIDNS;
    assert.ok(
      outer && (await readlink('/proc/self/ns/pid')) !== outer,
      'not in a pid namespace of its own: refusing to move its pid counter',
    );
  });
  beforeEach(async () => {
    sandbox = await Sandbox.create();
  });
  afterEach(async () => sandbox?.destroy());

  it("never writes the guest's token onto the host's own link", async () => {
    const daemon = await sandbox.startDaemon();
    await sandbox.host(['ip', 'link', 'set', 'dev', 'wlan0', 'alias', 'the-hosts-own-uplink']);
    const guest = await sandbox.startGuest({ agent: false });
    const reuser = execa('nsenter', [`--net=/proc/${guest.pid}/ns/net`, NODE, REUSER, sandbox.socket, String(guest.pid)], {
      reject: false,
    });
    const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
    assert.equal(attached.exitCode, 0, attached.stderr);
    assert.match((await reuser).stdout, /applied wlan0/);
    // The rotation runs once the daemon is idle, within 2 s of the attach.
    for (let i = 0; i < 60 && !/new token|no link carrying/.test(daemon.output()); i++) await new Promise((r) => setTimeout(r, 50));
    const [uplink] = JSON.parse((await sandbox.host(['ip', '-j', 'link', 'show', 'dev', 'wlan0'])).stdout) as Array<{ ifalias?: string }>;
    await daemon.stop();
    assert.equal(uplink?.ifalias, 'the-hosts-own-uplink', daemon.output());
    assert.match(daemon.output(), /shows no link carrying its token/);
  });
});
