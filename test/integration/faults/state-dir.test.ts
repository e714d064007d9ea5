import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ExitCode } from '@guestnet/protocol';
import { HOST_AGENT, Sandbox } from '../../fixtures/sandbox.js';

// Bad state dirs, socket dirs and configs: one line, a documented exit code,
// nothing changed and no file left behind.

const oneLine = (result: { stderr: string }) => assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);

describe('faults: unusable state, sockets and configs give one clear line', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let pristine: string;

  before(async () => {
    sandbox = await Sandbox.create();
    pristine = await sandbox.hostSnapshot();
  });
  after(async () => sandbox?.destroy());

  // Not sandbox.hostAgent: its own --state-dir and --socket would come last and win.
  const agent = (args: string[]) => sandbox.host(['node', HOST_AGENT, ...args]);
  const attach = async (args: string[]) => {
    const guest = await sandbox.startGuest({ agent: false });
    const result = await agent([
      'attach',
      String(guest.pid),
      '--no-wait',
      '--socket',
      sandbox.socket,
      ...(args.includes('--state-dir') ? [] : ['--state-dir', sandbox.stateDir]),
      ...args,
    ]);
    await guest.kill();
    return result;
  };

  it('a --state-dir that is a file', async () => {
    const file = join(sandbox.dir, 'not-a-dir');
    await writeFile(file, 'x');
    const result = await attach(['--state-dir', file]);
    assert.equal(result.exitCode, ExitCode.stateDir, result.stderr);
    oneLine(result);
    assert.match(result.stderr, /is not a directory|a file is in the way/);
  });

  it('a state dir or socket dir that others can write is refused, not used', async () => {
    const open = join(sandbox.dir, 'open-state');
    await mkdir(open, { mode: 0o777 });
    await chmod(open, 0o777);
    const state = await attach(['--state-dir', open]);
    assert.equal(state.exitCode, ExitCode.stateDir, state.stderr);
    assert.match(state.stderr, /refusing the state dir .* mode 777/);
    assert.deepEqual(await readdir(open), []);
    const sockets = join(sandbox.dir, 'open-sockets');
    await mkdir(sockets);
    await chmod(sockets, 0o777);
    const guest = await sandbox.startGuest({ agent: false });
    const socket = await agent([
      'attach',
      String(guest.pid),
      '--timeout',
      '2000',
      '--state-dir',
      sandbox.stateDir,
      '--socket',
      join(sockets, 'guest.sock'),
    ]);
    await guest.kill();
    assert.equal(socket.exitCode, ExitCode.stateDir, socket.stderr);
    oneLine(socket);
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('a full state filesystem: exit 16 naming it, and no temp file left', async () => {
    const guest = await sandbox.startGuest({ agent: false });
    const full = join(sandbox.dir, 'full');
    await mkdir(full, { mode: 0o700 });
    // The tmpfs exists only in this command's own mount namespace.
    const script = `mount -t tmpfs -o size=64k,mode=0700 tmpfs ${full} && mkdir -m 700 ${full}/state &&
      (head -c 1048576 /dev/zero > ${full}/fill 2>/dev/null || true) &&
      node ${HOST_AGENT} attach ${guest.pid} --no-wait --state-dir ${full}/state; code=$?
      find ${full}/state -name '*.tmp' | wc -l; exit $code`;
    const result = await sandbox.host(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script]);
    await guest.kill();
    assert.equal(result.exitCode, ExitCode.stateDir, result.stderr);
    oneLine(result);
    assert.match(result.stderr, /no space left/);
    assert.equal(result.stdout.trim(), '0', 'a temp file was left behind');
    assert.equal(await sandbox.hostSnapshot(), pristine);
  });

  it('a FIFO as --config is refused at once, and a gateway outside the config pool names the config', async () => {
    const fifo = join(sandbox.dir, 'fifo.json');
    await promisify(execFile)('mkfifo', [fifo]);
    const fromFifo = await attach(['--config', fifo]);
    assert.equal(fromFifo.exitCode, ExitCode.config, fromFifo.stderr);
    assert.match(fromFifo.stderr, /not a regular file/);
    const config = join(sandbox.dir, 'pool.json');
    await writeFile(config, JSON.stringify({ pool: '10.203.0.0/24' }));
    const outside = await attach(['--config', config]);
    assert.equal(outside.exitCode, ExitCode.config, outside.stderr);
    oneLine(outside);
    assert.match(
      outside.stderr,
      new RegExp(`config ${config}: the gateway 172\\.17\\.3\\.2 is not a usable address of the pool 10\\.203\\.0\\.0/24`),
    );
  });

  it('a record holding null: one line and exit 3', async () => {
    await mkdir(join(sandbox.stateDir, 'attachments'), { recursive: true, mode: 0o700 });
    await writeFile(join(sandbox.stateDir, 'attachments', '4242.json'), 'null');
    try {
      const status = await agent(['status', '--state-dir', sandbox.stateDir]);
      assert.equal(status.exitCode, ExitCode.config, status.stderr);
      oneLine(status);
      assert.match(status.stderr, /state file .*4242\.json is damaged/);
    } finally {
      await writeFile(join(sandbox.stateDir, 'attachments', '4242.json'), '');
      await promisify(execFile)('rm', ['-f', join(sandbox.stateDir, 'attachments', '4242.json')]);
    }
  });
});
