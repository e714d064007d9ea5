import { readFile } from 'node:fs/promises';
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

/** Polls with a cheap TCP connect from the guest (bash /dev/tcp) until one succeeds: the same probe for every system. */
export async function untilOnline(guest: Guest, address = SERVER.address, port = SERVER.port): Promise<void> {
  const probe = ['timeout', '1', 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`];
  for (let i = 0; i < 500; i++) {
    if ((await guest.exec(probe)).exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the guest did not reach ${address}:${port} within 5 s`);
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/** The median of 5 readings a second apart: RSS moves with each garbage collection. */
export async function steadyRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < (smoke ? 1 : 5); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1000));
    readings.push(await rss(pid));
  }
  return median(readings);
}

export async function startupMs(argv: string[]): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await execa(process.execPath, argv);
    xs.push(ms(t));
  }
  return median(xs);
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
    const client = await execa(prefix[0] as string, [...prefix.slice(1), 'iperf3', '-c', SERVER.address, '-t', smoke ? '1' : '3', '-J'], { reject: false });
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
