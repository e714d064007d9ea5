import assert from 'node:assert/strict';
import type { ResultPromise } from 'execa';
import { type Guest, Sandbox } from '../../fixtures/sandbox.js';

// One guest holds a crowd of silent connections on the guest socket and
// reconnects each one the host closes. Another guest's agent must still get
// through, through the daemon and through a one-shot attach alike.

const CONNECTIONS = 1500;
const FLOOD = `
const net = require('node:net');
let open = 0;
function one() {
  const socket = net.connect(process.argv[1]);
  let connected = false;
  socket.on('connect', () => { connected = true; open++; });
  socket.on('error', () => {});
  socket.on('close', () => { if (connected) open--; setTimeout(one, 10); });
}
for (let i = 0; i < ${CONNECTIONS}; i++) one();
setInterval(() => console.log(open), 100);`;

/** Wrapped: awaiting the process itself would wait for it to end. */
async function startFlood(flooder: Guest, socket: string): Promise<{ flood: ResultPromise }> {
  const flood = flooder.spawn(['node', '-e', FLOOD, socket]);
  flood.catch(() => {});
  // Under way once it holds more connections than one netns may keep pending.
  let held = 0;
  flood.stdout?.on('data', (chunk: Buffer) => (held = Math.max(held, ...String(chunk).trim().split('\n').map(Number))));
  for (let i = 0; i < 200 && held <= 64; i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(held > 64, `the flood never got going (${held} connections)`);
  return { flood };
}

for (const mode of ['daemon', 'one-shot'] as const) {
  describe(`faults: a connection flood from one guest (${mode})`, function () {
    this.timeout(120_000);
    let sandbox: Sandbox;

    before(async () => {
      sandbox = await Sandbox.create();
    });
    after(async () => sandbox?.destroy());

    it("another guest's attach still gets its agent's confirmation, and the flood is cut down to its netns' share", async () => {
      const pristine = await sandbox.hostSnapshot();
      const daemon = mode === 'daemon' ? await sandbox.startDaemon() : undefined;
      const flooder = await sandbox.startGuest({ agent: false });
      // The one-shot attach listens only while it waits: the flood starts against the daemon's socket, or keeps retrying until then.
      const { flood } =
        mode === 'daemon' ? await startFlood(flooder, sandbox.socket) : { flood: flooder.spawn(['node', '-e', FLOOD, sandbox.socket]) };
      flood.catch(() => {});
      const guest = await sandbox.startGuest();
      const attached = await sandbox.hostAgent(['attach', String(guest.pid)]);
      assert.equal(attached.exitCode, 0, attached.stderr);
      assert.match(attached.stdout, /guest agent confirmed wlan0/);
      // The flooder has no attachment: its netns is not looked for, and its connections share the budget of those untold.
      if (daemon) assert.match(daemon.output(), /dropped \d+ connections from an untold netns that had not said hello/);
      flood.kill('SIGKILL');
      assert.equal((await sandbox.hostAgent(['detach', String(guest.pid)])).exitCode, 0);
      await daemon?.stop();
      await guest.kill();
      await flooder.kill();
      assert.equal(await sandbox.hostSnapshot(), pristine);
    });
  });
}
