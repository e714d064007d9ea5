import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { pidAlive } from '@guestnet/runtime';

describe('pid liveness', () => {
  it('is true for this process and false for one that has exited', async () => {
    assert.equal(pidAlive(process.pid), true);
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid as number;
    await once(child, 'exit');
    assert.equal(pidAlive(pid), false);
  });

  it("counts a process it may not signal as alive (EPERM), as root's init is", () => {
    // pid 1 exists in every pid namespace; as root the signal 0 is allowed, otherwise EPERM: alive either way.
    assert.equal(pidAlive(1), true);
  });
});
