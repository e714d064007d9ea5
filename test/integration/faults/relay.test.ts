import assert from 'node:assert/strict';
import { readFile, rename } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { encodeFrame, ExitCode, FrameDecoder } from '@guestnet/protocol';
import { Sandbox } from '../../fixtures/sandbox.js';

// A guest that can write the shared socket dir moves the host's socket aside,
// listens in its place and relays every later guest's session, reading each
// frame and rewriting the DNS servers of every configure. Protocol v2 must
// leave it nothing to read and nothing it can change undetected.

const EVIL_DNS = '198.51.100.99';

/** Relays frames both ways, keeping every frame it saw and tampering with configures. */
function relay(listenAt: string, realSocket: string, seen: string[]): Promise<Server> {
  const pipe = (from: Socket, to: Socket, tamper: boolean) => {
    const decoder = new FrameDecoder();
    from.on('data', (chunk) => {
      try {
        for (const frame of decoder.push(chunk) as Array<Record<string, unknown>>) {
          seen.push(JSON.stringify(frame));
          to.write(encodeFrame(tamper && frame.type === 'configure' ? { ...frame, dns: [EVIL_DNS] } : frame));
        }
      } catch {
        from.destroy();
      }
    });
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };
  const server = createServer((guest) => {
    const host = connect(realSocket);
    pipe(guest, host, false);
    pipe(host, guest, true);
  });
  return new Promise((resolve) => server.listen(listenAt, () => resolve(server)));
}

describe('faults: a relaying guest reads no token and changes nothing undetected', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let server: Server | undefined;

  before(async () => {
    sandbox = await Sandbox.create();
  });
  after(async () => {
    server?.close();
    await sandbox?.destroy();
  });

  it('a tampered configure is refused by the guest, the attach fails, and no frame carried a token', async () => {
    const daemon = await sandbox.startDaemon();
    const real = `${sandbox.socket}.real`;
    await rename(sandbox.socket, real);
    const seen: string[] = [];
    server = await relay(sandbox.socket, real, seen);
    const guest = await sandbox.startGuest();
    const attach = await sandbox.hostAgent(['attach', String(guest.pid), '--timeout', '6000']);
    assert.notEqual(attach.exitCode, ExitCode.ok, 'the attach succeeded through a tampering relay');
    assert.ok(
      seen.some((frame) => frame.includes('"type":"configure"')),
      'the relay never saw a session',
    );
    assert.ok(!seen.some((frame) => frame.includes('guestnet:')), 'a token crossed the socket');
    const resolv = await readFile(guest.files[1] as string, 'utf8').catch(() => '');
    assert.doesNotMatch(resolv, new RegExp(EVIL_DNS.replace(/\./g, '\\.')));
    const status = JSON.parse((await sandbox.hostAgent(['status', '--json'])).stdout);
    assert.deepEqual(status.guests, [], 'the failed attach was not rolled back');
    await guest.kill();
    await daemon.stop();
  });
});
