import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { encodeFrame, ExitCode, FrameDecoder, PROTOCOL_VERSION } from '@guestnet/protocol';
import { type Daemon, Sandbox, UPLINK } from '../../fixtures/sandbox.js';

const SILENT = 300;

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('host-agent serve against a hostile guest: keeps serving, memory bounded', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let daemon: Daemon;
  const sockets: Socket[] = [];

  before(async () => {
    sandbox = await Sandbox.create();
    daemon = await sandbox.startDaemon();
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await sandbox?.destroy();
  });

  it(`attaches a real guest while ${SILENT} silent connections, a 50 MB stream, garbage and a slow talker hit the socket`, async () => {
    const before = await rssMb(daemon.pid);
    for (let i = 0; i < SILENT; i++) {
      const socket = await open(sandbox.socket);
      socket.on('error', () => {});
      sockets.push(socket);
    }
    // 50 MB with no frame end: first as a huge declared length, then as a valid length followed by junk.
    const flood = async (first: Buffer) => {
      const socket = await open(sandbox.socket);
      socket.on('error', () => {});
      sockets.push(socket);
      socket.write(first);
      const chunk = Buffer.alloc(1024 * 1024, 0x41);
      for (let i = 0; i < 50 && !socket.destroyed; i++) await new Promise((r) => socket.write(chunk, () => r(undefined)));
    };
    const header = Buffer.alloc(4);
    header.writeUInt32BE(16 * 1024);
    const floods = Promise.all([flood(Buffer.from([0x7f, 0xff, 0xff, 0xff])), flood(header)]);
    const slow = await open(sandbox.socket);
    slow.on('error', () => {});
    sockets.push(slow);
    const frame = encodeFrame({ type: 'hello', version: PROTOCOL_VERSION, links: [], nonce: 'a'.repeat(32), capabilities: [] });
    const drip = setInterval(() => slow.write(frame.subarray(0, 1)), 100);
    for (const junk of [encodeFrame({}), encodeFrame({ type: 'constructor' }), Buffer.from('\0\0\0\x03{{{')]) {
      const socket = await open(sandbox.socket);
      socket.on('error', () => {});
      sockets.push(socket);
      socket.write(junk);
    }

    try {
      const guest = await sandbox.startGuest();
      const result = await sandbox.hostAgent(['attach', String(guest.pid)]);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal((await sandbox.fetchFromGuest(guest)).stdout.trim(), UPLINK.hostAddress);
      await floods.catch(() => {});
      const grown = (await rssMb(daemon.pid)) - before;
      assert.ok(grown < 40, `the daemon grew by ${grown.toFixed(1)} MB`);
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
    } finally {
      clearInterval(drip);
    }
  });

  it('logs the rejections rate-limited, and is still alive', async () => {
    const rejections = daemon
      .output()
      .split('\n')
      .filter((line) => line.includes('guest connection rejected'));
    assert.ok(rejections.length >= 1, 'no rejection was logged');
    assert.ok(rejections.length <= 15, `${rejections.length} rejection lines: not rate-limited`);
    assert.ok(rejections.some((line) => /"suppressed":\d+/.test(line)) || rejections.length < 5);
    const status = await sandbox.hostAgent(['status', '--json']);
    assert.equal(status.exitCode, 0, status.stderr);
  });

  it('answers a wrong-version hello with an error naming the version it speaks, then closes', async () => {
    const socket = await open(sandbox.socket);
    sockets.push(socket);
    const decoder = new FrameDecoder();
    const frames: unknown[] = [];
    socket.on('data', (chunk) => frames.push(...decoder.push(chunk)));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(encodeFrame({ type: 'hello', version: 1, tokens: [], capabilities: [] }));
    await closed;
    assert.deepEqual(frames, [{ type: 'error', code: 'guestProtocol', message: "unsupported protocol version '1' (this host speaks 3)" }]);
  });

  for (const [label, overrides] of [
    ['a link named ../x', { name: '../x' }],
    ['a link named "eth0; reboot"', { name: 'eth0; reboot' }],
    ['a 200-character link name', { name: 'x'.repeat(200) }],
    ['prefix length 33', { prefixLength: 33 }],
  ] as const) {
    it(`an attached guest reporting ${label} is refused: attach exits ${ExitCode.guestProtocol} and the host is rolled back`, async () => {
      const pristine = await sandbox.hostSnapshot();
      const guest = await sandbox.startGuest({ agent: false });
      const session = sandbox.rawGuest(guest, 'own', [], overrides);
      const attach = await sandbox.hostAgent(['attach', String(guest.pid)]);
      assert.equal(attach.exitCode, ExitCode.guestProtocol, attach.stderr);
      assert.equal(attach.stderr.trim().split('\n').length, 1);
      const frames = await session;
      assert.equal((frames.at(-2) as Record<string, unknown>).type, 'error');
      assert.match(String((frames.at(-2) as Record<string, unknown>).message), /state\.(name|prefixLength)/);
      assert.equal(await sandbox.hostSnapshot(), pristine);
      await guest.kill();
    });
  }
});
