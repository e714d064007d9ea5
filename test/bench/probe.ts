import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SERVER, UPLINK } from '../fixtures/sandbox.js';

// The storm's clock: storm-probe.py, one process that watches every guest of
// a storm (see there why it is one, and in python).

const PROBE = fileURLToPath(new URL('../../bench/storm-probe.py', import.meta.url));

/** The probe (storm-probe.py), watching every guest; resolves once it watches. */
export async function startProbe(pids: number[]) {
  const probe = execa('python3', [PROBE, SERVER.address, String(SERVER.port), '300', ...pids.map(String)], { reject: false });
  let said = '';
  await new Promise<void>((resolve, reject) => {
    probe.stdout?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if (said.startsWith('ready\n')) resolve();
    });
    void probe.then((r) => reject(new Error(`the storm probe exited: ${r.stderr}`)));
  });
  return {
    /** Starts trying these guests: what attached them has returned. */
    attached: (...attached: number[]) => probe.stdin?.write(attached.map((pid) => `${pid}\n`).join('')),
    /** When each guest got its answer (CLOCK_MONOTONIC ns), and the probe's own CPU seconds. */
    seen: async (): Promise<{ online: bigint[]; cpuS: number }> => {
      const ended = await probe;
      if (ended.exitCode !== 0) throw new Error(`storm probe: ${ended.stderr.trim() || ended.signal}`);
      const lines = ended.stdout.split('\n').filter((l) => /^\d+ \d+ /.test(l));
      for (const line of lines) {
        const [pid, , answer] = line.split(' ');
        if (answer !== UPLINK.hostAddress)
          throw new Error(`guest ${pid}: the server saw '${answer}', not the uplink ${UPLINK.hostAddress}`);
      }
      return { online: lines.map((l) => BigInt(l.split(' ')[1] as string)), cpuS: Number(/^cpu (\S+)$/m.exec(ended.stdout)?.[1]) };
    },
    /** Its sockets hold the guests' netns: it must be gone before they are undone. */
    stop: async () => {
      probe.kill();
      await probe;
    },
  };
}
