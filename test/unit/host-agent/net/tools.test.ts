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

  it('looks for a tool once it was found no more: the first attach on a host asks for the firewall tools', async () => {
    assert.equal(await onPath('true'), true);
    const path = process.env.PATH;
    process.env.PATH = '/guestnet-nowhere';
    try {
      assert.equal(await onPath('true'), true, 'found before, not looked for again');
      assert.equal(await onPath('false'), false, 'never found, looked for each time');
    } finally {
      process.env.PATH = path;
    }
    assert.equal(await onPath('false'), true, 'found once there');
  });

  it('needs ip and nsenter whatever the firewall', () => {
    assert.deepEqual(
      BASE_TOOLS.map((tool) => tool.binary),
      ['ip', 'nsenter'],
    );
  });
});
