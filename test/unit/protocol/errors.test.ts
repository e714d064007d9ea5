import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AgentError,
  BadPidError,
  CommandFailedError,
  ConfigError,
  describeError,
  ExitCode,
  GuestApplyError,
  GuestTimeoutError,
  GuestWithholdsError,
  KernelFeatureError,
  MissingToolError,
  NameTakenError,
  NotRootError,
  PeerClosedError,
  ProtocolError,
  SocketBusyError,
  StateDirError,
  UplinkNotFoundError,
  UsageError,
} from '@guestnet/protocol';

const README = fileURLToPath(new URL('../../../../README.md', import.meta.url));

describe('protocol errors and exit codes', () => {
  it("numbers exit codes 0 to 19 without gaps or repeats, as README's table lists them", () => {
    const codes = Object.values(ExitCode);
    assert.deepEqual(
      codes,
      codes.map((_, i) => i),
    );
    const section = readFileSync(README, 'utf8').split('## Exit codes')[1] ?? '';
    const rows = [...section.matchAll(/^\| (\d+) +\|/gm)].map((m) => Number(m[1]));
    assert.deepEqual(rows, codes);
  });

  it('gives each error class its own exit code and its class name', () => {
    const cases: Array<[AgentError, number]> = [
      [new UsageError('x'), 2],
      [new ConfigError('x'), 3],
      [new NotRootError('attach'), 4],
      [new MissingToolError('nft', "the 'nftables' package"), 5],
      [new BadPidError('x'), 6],
      [new NameTakenError('x'), 7],
      [new UplinkNotFoundError('x'), 8],
      [new CommandFailedError(['ip', 'link'], '', 1), 9],
      [new GuestTimeoutError('x'), 10],
      [new ProtocolError('x'), 11],
      [new PeerClosedError('x'), 11],
      [new GuestApplyError('x'), 12],
      [new SocketBusyError('x'), 13],
      [new StateDirError('x'), 16],
      [new KernelFeatureError('x'), 17],
      [new GuestWithholdsError('x'), 18],
    ];
    for (const [error, code] of cases) {
      assert.equal(error.exitCode, code, error.name);
      assert.equal(error.name, error.constructor.name);
      assert.ok(error instanceof AgentError);
    }
  });

  it('says what to do when root or a tool is missing', () => {
    assert.equal(new NotRootError('attach').message, 'attach needs root (CAP_NET_ADMIN); run it as root');
    assert.equal(
      new MissingToolError('nft', "the 'nftables' package").message,
      "'nft' was not found in PATH; install the 'nftables' package",
    );
  });

  it('names a failed command with the first line of its stderr, else its exit, else that it did not run', () => {
    const failed = new CommandFailedError(['ip', 'link', 'add'], '\nRTNETLINK answers: File exists\nmore\n', 2);
    assert.equal(failed.message, 'ip link add: RTNETLINK answers: File exists');
    assert.deepEqual([failed.argv, failed.commandExitCode], [['ip', 'link', 'add'], 2]);
    assert.equal(new CommandFailedError(['nft', '-f', '-'], '  ', 1).message, 'nft -f -: exit 1');
    assert.equal(new CommandFailedError(['tayga'], '', undefined).message, 'tayga: did not run');
  });

  it('describes any thrown value in the flat --json shape, an unknown one as internal', () => {
    assert.deepEqual(describeError(new NameTakenError('vm_wlan0 is taken')), {
      code: 'nameTaken',
      exitCode: 7,
      message: 'vm_wlan0 is taken',
    });
    assert.deepEqual(describeError(new TypeError('boom')), { code: 'internal', exitCode: 1, message: 'boom' });
    assert.deepEqual(describeError('text'), { code: 'internal', exitCode: 1, message: 'text' });
    assert.deepEqual(describeError(undefined), { code: 'internal', exitCode: 1, message: 'undefined' });
  });
});
