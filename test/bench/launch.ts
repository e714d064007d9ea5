import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { CommandResult } from '../fixtures/sandbox.js';

// A storm's clients all start at once, as the launchers of a host that just
// rebooted do: from one shell, which forks each in a fraction of a
// millisecond. Spawned from node one by one, each would wait for the one
// before (node's spawn blocks for milliseconds), and the last would start a
// good part of a storm later.

export interface Client {
  argv: string[];
  /** Its stdin, as a runtime hands a CNI plugin its config. */
  input?: string;
}

const quoted = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * Writes a launch of `clients` into `dir`; the function returned starts them
 * all, each first moving itself into the cgroup whose cgroup.procs is
 * `procsFile` (so that all it runs is counted), tells `ended` the index of
 * each as it exits, and resolves with how each ended, in order.
 */
export async function prepareLaunch(
  dir: string,
  clients: Client[],
  procsFile?: string,
): Promise<(ended?: (index: number) => void) => Promise<CommandResult[]>> {
  const lines: string[] = [];
  for (const [i, client] of clients.entries()) {
    const input = join(dir, `in.${i}`);
    await writeFile(input, client.input ?? '');
    const enter = procsFile ? `echo 0 > ${quoted(procsFile)} && ` : '';
    const run = `( ${enter}exec ${client.argv.map(quoted).join(' ')} ) < ${quoted(input)} > ${quoted(join(dir, `out.${i}`))} 2>&1`;
    lines.push(`{ ${run}; echo "${i} $?"; } &`);
  }
  lines.push('wait');
  const script = join(dir, 'launch.sh');
  await writeFile(script, `${lines.join('\n')}\n`);
  return async (ended) => {
    // Read as it comes, not buffered: each line is a client that just ended.
    const launcher = execa('sh', [script], { reject: false, buffer: { stdout: false } });
    const codes = new Map<number, number>();
    let said = '';
    launcher.stdout?.on('data', (chunk: Buffer) => {
      const lines = (said + chunk.toString()).split('\n');
      said = lines.pop() as string;
      for (const line of lines) {
        const [index, code] = line.split(' ').map(Number) as [number, number];
        codes.set(index, code);
        ended?.(index);
      }
    });
    const done = await launcher;
    if (done.exitCode !== 0) throw new Error(`the storm's launcher failed: ${done.stderr}`);
    return Promise.all(
      clients.map(async (_, i) => {
        const output = await readFile(join(dir, `out.${i}`), 'utf8');
        return { exitCode: codes.get(i) ?? -1, stdout: output, stderr: output };
      }),
    );
  };
}
