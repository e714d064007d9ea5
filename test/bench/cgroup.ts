import { appendFile, mkdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

// The CPU a storm costs, counted by a cgroup (v2) made for it: the kernel
// charges every process in it, and every process they start, however short
// its life and whoever reaps it. A process moved in is charged from then on.

const cgroupOf = async (pid: number | 'self') => /^0::(.*)$/m.exec(await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => ''))?.[1];

/** Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1's. */
async function hierarchy(): Promise<string> {
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const [mount, filesystem] = line.split(' - ');
    if (filesystem?.startsWith('cgroup2 ')) return mount?.split(' ')[4] as string;
  }
  throw new Error('the storm bench counts CPU with a cgroup v2 hierarchy, and none is mounted');
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(' ').filter(Boolean).map(Number);
}

/** A process and all its descendants. */
export async function treeOf(pid: number): Promise<number[]> {
  const below = await Promise.all((await childrenOf(pid)).map(treeOf));
  return [pid, ...below.flat()];
}

/**
 * A cgroup with a child cgroup per part (clients, daemon, ...): the kernel
 * counts each part, and the whole is their sum.
 */
export class CpuGroup<Part extends string> {
  private constructor(
    /** The cgroup's directory. */
    readonly dir: string,
    private readonly parts: readonly Part[],
    /** The bench's own cgroup, where processes still alive go back to. */
    private readonly home: string,
  ) {}

  /** A new, empty cgroup beside the bench's, with a child per part. */
  static async create<Part extends string>(tag: string, parts: readonly Part[]): Promise<CpuGroup<Part>> {
    const root = await hierarchy();
    const own = await cgroupOf('self');
    if (own === undefined) throw new Error('the bench is in no cgroup v2');
    const dir = join(root, `guestnet-bench-${tag}-${Math.random().toString(36).slice(2, 8)}`);
    await mkdir(dir);
    for (const part of parts) await mkdir(join(dir, part));
    return new CpuGroup(dir, parts, join(root, own));
  }

  /** A part's cgroup.procs: a process that writes 0 to it moves itself in. */
  procsFile(part: Part): string {
    return join(this.dir, part, 'cgroup.procs');
  }

  /** CPU time of everything in a part (or in all) so far, in microseconds. */
  async usageUs(part?: Part): Promise<number> {
    const stat = await readFile(join(this.dir, part ?? '', 'cpu.stat'), 'utf8');
    return Number(/^usage_usec (\d+)$/m.exec(stat)?.[1]);
  }

  async pids(): Promise<number[]> {
    const parts = await Promise.all(this.parts.map((part) => readFile(this.procsFile(part), 'utf8').catch(() => '')));
    return parts.join('\n').split('\n').filter(Boolean).map(Number);
  }

  /**
   * Moves in each of `pids` and its descendants. A process may fork while
   * its parent moves: again until a pass finds every one of them inside.
   */
  async adopt(part: Part, pids: number[]): Promise<void> {
    const inside = `/${this.dir.split('/').at(-1)}/${part}`;
    for (let pass = 0; pass < 50; pass++) {
      const tree = (await Promise.all(pids.map(treeOf))).flat();
      const outside = (await Promise.all(tree.map(async (pid) => ((await cgroupOf(pid)) === inside ? [] : [pid])))).flat();
      if (outside.length === 0) return;
      // One write per process; one that exited meanwhile fails with ESRCH, and needs no moving.
      for (const pid of outside) await appendFile(this.procsFile(part), String(pid)).catch(() => {});
    }
    throw new Error(`could not move every process of ${pids.join(', ')} into ${this.dir}`);
  }

  /**
   * Resolves once everything in it is idle (under 2% of a CPU over 250 ms),
   * or after `maxMs`: agents that just started, or a daemon finishing what a
   * storm asked, do it before a figure is read.
   */
  async settle(maxMs: number): Promise<void> {
    const until = performance.now() + maxMs;
    let last = await this.usageUs();
    while (performance.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      const now = await this.usageUs();
      if (now - last < 5000) return;
      last = now;
    }
  }

  /** Moves what still runs back to the bench's cgroup, then removes this one. */
  async remove(): Promise<void> {
    for (let pass = 0; pass < 50; pass++) {
      const pids = await this.pids();
      if (pids.length === 0) break;
      for (const pid of pids) await appendFile(join(this.home, 'cgroup.procs'), String(pid)).catch(() => {});
    }
    // A process that just exited may keep its cgroup busy for a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        for (const part of this.parts)
          await rmdir(join(this.dir, part)).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
        await rmdir(this.dir);
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
