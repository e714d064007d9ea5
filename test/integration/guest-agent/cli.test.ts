import assert from 'node:assert/strict';
import { execa } from 'execa';
import { ExitCode } from '@guestnet/protocol';
import { GUEST_AGENT } from '../../fixtures/sandbox.js';

const guestAgent = async (args: string[]) => {
  const result = await execa(process.execPath, [GUEST_AGENT, ...args], { reject: false, timeout: 10000 });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
};

describe('guest-agent command line', () => {
  it('a bare guest-agent prints its help on stdout and exits 0', async () => {
    const result = await guestAgent([]);
    assert.deepEqual([result.exitCode, result.stderr], [0, '']);
    assert.match(result.stdout, /^Usage: guest-agent \[options\] \[command\]/);
  });

  it('--version names the release and the protocol', async () => {
    const result = await guestAgent(['--version']);
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /^guest-agent \d+\.\d+\.\d+ \(protocol v3\)$/);
  });

  it('a mistyped command is one line with its suggestion', async () => {
    const result = await guestAgent(['stauts']);
    assert.equal(result.stderr, "guest-agent: unknown command 'stauts'; did you mean status? (see guest-agent --help)");
  });

  it('help shows examples, within 80 columns through a pipe', async () => {
    for (const verb of ['run', 'status', 'completion']) {
      const help = await guestAgent(['help', verb]);
      assert.match(help.stdout, /\nExamples:\n/);
      assert.ok(Math.max(...help.stdout.split('\n').map((line) => line.length)) <= 80, verb);
    }
  });

  it('--help lists run', async () => {
    const result = await guestAgent(['--help']);
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /run \[options\]/);
  });

  for (const [args, pattern] of [
    [['run', '--frobnicate'], /unknown option '--frobnicate'/],
    [['run', '--log-level', 'loud'], /--log-level: 'loud'/],
    [['run', '--socket', 'relative.sock'], /must be an absolute path/],
    [['fly'], /unknown command 'fly'/],
  ] as const) {
    it(`refuses ${args.join(' ')} with one line and exit ${ExitCode.usage}`, async () => {
      const result = await guestAgent([...args]);
      assert.equal(result.exitCode, ExitCode.usage, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1);
      assert.match(result.stderr, /^guest-agent: /);
      assert.match(result.stderr, pattern);
    });
  }
});
