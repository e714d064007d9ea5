import assert from 'node:assert/strict';
import { processGuest, requireRoot } from '@guestnet/host-agent';
import { BadPidError, NotRootError } from '@guestnet/protocol';

// Before an attach: root, and a guest that exists in a netns of its own, or
// attach would wire the host to itself.

describe('service/preflight: what an attach checks first', () => {
  it('refuses exactly when not root, naming what needed it', () => {
    if (process.getuid?.() === 0) assert.doesNotThrow(() => requireRoot('attach'));
    else
      assert.throws(
        () => requireRoot('attach'),
        (e: unknown) => e instanceof NotRootError && e.message.includes('attach'),
      );
  });

  it('refuses a pid with no process, in one line naming it', async () => {
    await assert.rejects(processGuest(4000006), (e: unknown) => e instanceof BadPidError && e.message === 'no process with pid 4000006');
  });

  it("refuses a process in the host's own netns", async () => {
    await assert.rejects(
      processGuest(process.pid),
      (e: unknown) => e instanceof BadPidError && /shares the host's network namespace/.test(e.message),
    );
  });
});
