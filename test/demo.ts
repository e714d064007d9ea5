// `npm run demo`: the main job, in a sandbox that stands in for a device.
// Builds throw-away namespaces (a host with uplink wlan0 to an "internet" with
// a TCP server), starts a guest with the guest agent, attaches it with the host
// agent, proves the guest is online with a real request, detaches, cleans up.
import { Sandbox, SERVER, UPLINK } from './fixtures/sandbox.js';

const timings: Array<[string, number]> = [];

async function step<T>(title: string, action: () => Promise<T>): Promise<T> {
  process.stdout.write(`\n== ${title}\n`);
  const started = performance.now();
  const result = await action();
  const ms = Math.round(performance.now() - started);
  timings.push([title, ms]);
  process.stdout.write(`   (${ms} ms)\n`);
  return result;
}

function show(text: string): void {
  for (const line of text.trim().split('\n')) process.stdout.write(`   ${line}\n`);
}

function must<T extends { exitCode: number; stdout: string; stderr: string }>(what: string, result: T): T {
  if (result.exitCode !== 0) throw new Error(`${what} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  return result;
}

async function demo(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo builds network namespaces: run it as root');
  const sandbox = await step('build the sandbox: host netns with uplink wlan0, internet netns with a TCP server', () => Sandbox.create());
  try {
    show(`host netns ${sandbox.hostNs}: wlan0 ${UPLINK.hostAddress}/${UPLINK.prefix}, default via ${UPLINK.inetAddress}`);
    show(`internet netns ${sandbox.inetNs}: server on ${SERVER.address}:${SERVER.port}, replies with the address it sees`);
    const pristine = await sandbox.hostSnapshot();

    const guest = await step('start a guest (unshare --net) running `guest-agent run`', () => sandbox.startGuest());
    show(`guest pid ${guest.pid}, offline: ${(await guest.exec(['ip', '-br', 'link'])).stdout.trim().replace(/\s+/g, ' ')}`);

    const attached = await step(`host-agent attach ${guest.pid}`, async () =>
      must('attach', await sandbox.hostAgent(['attach', String(guest.pid)])),
    );
    show(attached.stdout);

    await step('the guest now has', async () => {
      show(must('ip address', await guest.exec(['ip', '-br', '-4', 'address', 'show', 'dev', 'wlan0'])).stdout);
      show(must('ip route', await guest.exec(['ip', 'route', 'show', 'default'])).stdout);
    });

    const seen = await step(`a real request from the guest to ${SERVER.address}:${SERVER.port}`, async () =>
      must('request', await sandbox.fetchFromGuest(guest)).stdout.trim(),
    );
    show(
      `the server saw the connection come from ${seen} (${seen === UPLINK.hostAddress ? 'the host uplink: NAT works' : 'NOT the uplink!'})`,
    );
    if (seen !== UPLINK.hostAddress) throw new Error('the guest traffic was not masqueraded');

    const detached = await step(`host-agent detach ${guest.pid}`, async () =>
      must('detach', await sandbox.hostAgent(['detach', String(guest.pid)])),
    );
    show(detached.stdout);
    const restored = (await sandbox.hostSnapshot()) === pristine;
    show(restored ? 'host links, routes, rules and ip_forward are exactly as before' : 'the host was NOT restored');
    if (!restored) throw new Error('detach did not restore the host');
  } finally {
    await step('clean up the sandbox', () => sandbox.destroy());
  }
  process.stdout.write('\nguest online, and everything cleaned up. Steps:\n');
  for (const [title, ms] of timings) process.stdout.write(`  ${String(ms).padStart(6)} ms  ${title}\n`);
}

demo().catch((error: Error) => {
  process.stderr.write(`demo: ${error.message}\n`);
  process.exitCode = 1;
});
