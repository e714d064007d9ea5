import assert from 'node:assert/strict';
import { readlink } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { NODE } from '../../fixtures/sandbox.js';

// attack6: a token rotation that wrote onto the name the guest confirmed,
// through /proc/<attached pid>/ns/net, wrote onto whatever netns that pid
// number had come to: the host's own wlan0 alias took the guest's new token.
// The scenario moves a pid counter, so it runs in a pid namespace of its own
// (with its own /proc), in a mocha of its own.

const SCENARIO = fileURLToPath(new URL('./pid-reuse.scenario.js', import.meta.url));
const MOCHA = fileURLToPath(new URL('../../../../node_modules/mocha/bin/mocha.js', import.meta.url));

describe('faults: a pid reused between an attach and its rotation', function () {
  this.timeout(180_000);

  it("leaves the host's links alone (pid-reuse.scenario.ts, in a pid namespace of its own)", async () => {
    const run = await execa(
      'unshare',
      ['--pid', '--fork', '--mount-proc', NODE, MOCHA, '--no-config', '--timeout', '120000', '--exit', '--fail-zero', SCENARIO],
      { reject: false, all: true, env: { GUESTNET_OUTER_PIDNS: await readlink('/proc/self/ns/pid') } },
    );
    assert.equal(run.exitCode, 0, run.all);
  });
});
