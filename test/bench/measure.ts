import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Guest, Sandbox } from '../fixtures/sandbox.js';
import { SERVER } from '../fixtures/sandbox.js';

// The bench's measuring tools: times, percentiles, memory, start-up, throughput.

export const smoke = process.argv.includes('--smoke');
export const quick = smoke || process.argv.includes('--quick');

export const ms = (started: number) => Math.round((performance.now() - started) * 10) / 10;
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
export const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)] ?? NaN;

export async function must(what: string, result: { exitCode: number; stderr: string }): Promise<void> {
  if (result.exitCode !== 0) throw new Error(`${what}: ${result.stderr.trim()}`);
}

/**
 * Polls with a cheap TCP connect from the guest (bash /dev/tcp) until one
 * succeeds: the same probe for every system. bash reads the user's ~/.bashrc
 * when its stdin is a socket, and whatever that runs is no system's cost.
 */
export async function untilOnline(guest: Guest, address = SERVER.address, port = SERVER.port): Promise<void> {
  const probe = ['timeout', '1', 'bash', '--norc', '--noprofile', '-c', `exec 3<>/dev/tcp/${address}/${port}`];
  for (let i = 0; i < 500; i++) {
    if ((await guest.exec(probe)).exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the guest did not reach ${address}:${port} within 5 s`);
}

/** A process and all its descendants: an agent's `ip monitor` is part of its cost. */
async function withDescendants(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const below = await Promise.all(
    children
      .split(' ')
      .filter(Boolean)
      .map((child) => withDescendants(Number(child))),
  );
  return [pid, ...below.flat()];
}

/**
 * Private memory in MB (smaps_rollup's Private_Clean + Private_Dirty), the
 * process and its children: what each more agent costs a device. Shared pages
 * of the node binary are paid once however many agents run.
 */
async function privateMb(pid: number): Promise<number> {
  const rollups = await Promise.all((await withDescendants(pid)).map((p) => readFile(`/proc/${p}/smaps_rollup`, 'utf8').catch(() => '')));
  const kb = rollups.reduce(
    (sum, text) => sum + Number(/Private_Clean:\s+(\d+)/.exec(text)?.[1] ?? 0) + Number(/Private_Dirty:\s+(\d+)/.exec(text)?.[1] ?? 0),
    0,
  );
  return Math.round((kb / 1024) * 10) / 10;
}

/** The median of 5 readings a second apart: memory moves with each garbage collection. */
export async function steadyPrivateMb(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < (smoke ? 1 : 5); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1000));
    readings.push(await privateMb(pid));
  }
  return median(readings);
}

/**
 * The processes `pids` and their children ran while `work` ran: those that
 * exited within it, from strace's record. A process started ahead and handed
 * its input in the window (a runtime SpareProcess) counts, as does each new one
 * (nsenter, which then execs ip, is one); one started after the work for the
 * next attach, or a monitor that lives on, does not. Returns their commands.
 */
export async function processesDuring(pids: number[], work: () => Promise<void>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'guestnet-strace-'));
  const out = join(dir, 'trace');
  try {
    // A child forked while strace attaches would be missed: start again until the children stay the same.
    for (let attempt = 0; ; attempt++) {
      const children = await childrenOf(pids);
      const running = new Map(await Promise.all(children.map(async (p) => [String(p), await commandOf(p)] as [string, string])));
      const traced = [...pids, ...children];
      const strace = execa(
        'strace',
        ['-f', '-e', 'trace=execve,exit_group', '-e', 'signal=none', '-s', '40', '-o', out, ...traced.flatMap((p) => ['-p', String(p)])],
        { reject: false },
      );
      await attachedTo(strace, traced);
      if (attempt < 10 && String(await childrenOf(pids)) !== String(children)) {
        strace.kill('SIGINT');
        await strace;
        continue;
      }
      try {
        await work();
      } finally {
        strace.kill('SIGINT');
        await strace;
      }
      return processesRun(await readFile(out, 'utf8'), running);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const childrenOf = async (pids: number[]) =>
  (await Promise.all(pids.map(withDescendants)))
    .flat()
    .filter((p) => !pids.includes(p))
    .sort((a, b) => a - b);
const commandOf = async (pid: number) =>
  (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '?')).split('\0').filter(Boolean).join(' ');

/** Resolves once strace has attached to every one of `pids` (or found it gone). */
function attachedTo(strace: ReturnType<typeof execa>, pids: number[]): Promise<void> {
  let said = '';
  return new Promise<void>((resolve) => {
    const attached = () =>
      pids.every((p) => said.includes(`Process ${p} attached`) || said.includes(`PTRACE_SEIZE, ${p}): No such process`));
    strace.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if (attached()) resolve();
    });
    setTimeout(resolve, 5000);
  });
}

/** The median start-up of each of `commands` (node's arguments), in ms. */
export async function startupMs(...commands: string[][]): Promise<number[]> {
  const times = commands.map(() => [] as number[]);
  // Taken in turns, so that the machine's drift weighs on each alike.
  for (let i = 0; i < (smoke ? 1 : 20); i++)
    for (const [at, argv] of commands.entries()) {
      const t = performance.now();
      await execa(process.execPath, argv);
      times[at]?.push(ms(t));
    }
  return times.map(median);
}

/**
 * Guest-to-internet and host-to-internet TCP throughput (Gbit/s), sampled in
 * alternating pairs. The ratio is the median of the pairs' ratios: each pair
 * ran back to back, so the machine's drift cancels out of it.
 */
export async function throughput(sandbox: Sandbox, guest: Guest): Promise<{ guest: number; host: number; ratio: number }> {
  const sample = async (prefix: string[]) => {
    const server = execa('ip', ['netns', 'exec', sandbox.inetNs, 'iperf3', '-s', '-1', '-B', SERVER.address], { reject: false });
    await new Promise((r) => setTimeout(r, 200));
    const client = await execa(prefix[0] as string, [...prefix.slice(1), 'iperf3', '-c', SERVER.address, '-t', smoke ? '1' : '3', '-J'], {
      reject: false,
    });
    await server;
    return (JSON.parse(client.stdout).end?.sum_received?.bits_per_second ?? 0) / 1e9;
  };
  const samples = { guest: [] as number[], host: [] as number[], ratio: [] as number[] };
  for (let i = 0; i < (smoke ? 1 : quick ? 3 : 5); i++) {
    const host = await sample(['ip', 'netns', 'exec', sandbox.hostNs]);
    const fromGuest = await sample(['nsenter', `--net=/proc/${guest.pid}/ns/net`]);
    samples.host.push(host);
    samples.guest.push(fromGuest);
    samples.ratio.push(fromGuest / host);
  }
  return { guest: median(samples.guest), host: median(samples.host), ratio: median(samples.ratio) };
}

/**
 * The processes that ran to their end in a trace of `strace -f -e
 * trace=execve,exit_group`: each new one named by its last successful execve
 * (nsenter, which then execs ip, is one process: ip), each of `running` (pid
 * to command) by its command. strace may split a call into "<unfinished ...>"
 * and "<... execve resumed>".
 */
export function processesRun(trace: string, running: ReadonlyMap<string, string> = new Map()): string[] {
  const commands = new Map<string, string>(running);
  const asked = new Map<string, string>();
  const ended: string[] = [];
  for (const line of trace.split('\n')) {
    const [pid = ''] = line.split(/\s/, 1);
    const call = /^\d+\s+execve\("[^"]*", \[([^\]]*)\]/.exec(line);
    if (call) asked.set(pid, (call[1] ?? '').replace(/"/g, '').replace(/, /g, ' '));
    if (/execve.* = 0$/.test(line)) commands.set(pid, asked.get(pid) ?? '?');
    if (/^\d+\s+(?:exit_group\(|\+\+\+ (?:exited|killed))/.test(line) && commands.has(pid) && !ended.includes(pid)) ended.push(pid);
  }
  return ended.map((pid) => commands.get(pid) as string);
}
