import assert from 'node:assert/strict';
import { BASE_TOOLS, onPath, requireTools } from '@guestnet/host-agent';
import { MissingToolError } from '@guestnet/protocol';

describe('required tools', () => {
  it("finds an executable on PATH, and names the missing one's package", async () => {
    assert.equal(await onPath('sh'), true);
    assert.equal(await onPath('guestnet-no-such-tool'), false);
    await requireTools([{ binary: 'sh', debianPackage: 'dash' }]);
    await assert.rejects(
      requireTools([{ binary: 'guestnet-no-such-tool', debianPackage: 'guestnet-tools' }]),
      (error: unknown) =>
        error instanceof MissingToolError &&
        error.message === "'guestnet-no-such-tool' was not found in PATH; install the 'guestnet-tools' package",
    );
  });

  it('needs ip and nsenter whatever the firewall', () => {
    assert.deepEqual(
      BASE_TOOLS.map((tool) => tool.binary),
      ['ip', 'nsenter'],
    );
  });
});
