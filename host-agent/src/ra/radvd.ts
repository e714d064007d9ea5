import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { MissingToolError } from '@guestnet/protocol';
import { runCommand, writeAtomically } from '@guestnet/runtime';
import { radvdConfig, type RaLink } from './config.js';

// radvd as a child the daemon owns: it writes radvd's config, starts radvd
// with the first guest link that needs advertisements, reloads it (SIGHUP)
// when the links change, and stops it with the last. A radvd left behind by
// a daemon that died (its pid file names it, running our config) is ended
// before a new one starts, so there is never more than one.
//
// Stopping has two meanings. With the guests leaving, radvd is sent SIGTERM
// and says goodbye: a last RA with router lifetime 0, so guests drop the
// route at once. With the daemon restarting, it is sent SIGKILL and says
// nothing: guests keep the route they were given (its lifetime is minutes),
// and the next daemon's radvd takes over before it runs out.

/** How long radvd may take to write its pid file after it starts: a guard against hanging, not a speed bound. */
const START_GUARD_MS = 10_000;
const STDERR_KEPT = 4096;

export interface RadvdOptions {
  configPath: string;
  pidPath: string;
  /** The radvd binary; a test names a missing one. */
  binary?: string;
  /** Hears radvd exiting when it was not asked to: with its last words. */
  onExit?: (detail: string) => void;
}

export type StopMode = 'withdraw' | 'keep';

export class Radvd {
  private child: ChildProcess | undefined;
  private stderr = '';
  private stopping = false;

  constructor(private readonly options: RadvdOptions) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /** Advertises on exactly `links`: writes the config, then starts, reloads, or stops (withdrawing) radvd. */
  async apply(links: readonly RaLink[]): Promise<void> {
    if (links.length === 0) return this.stop('withdraw');
    await writeAtomically(this.options.configPath, radvdConfig(links), { mode: 0o644 });
    if (this.pid !== undefined) {
      this.child?.kill('SIGHUP');
      return;
    }
    await this.endStale();
    await this.start();
  }

  async stop(mode: StopMode): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.kill(mode === 'withdraw' ? 'SIGTERM' : 'SIGKILL');
    await exited;
    this.child = undefined;
    this.stopping = false;
  }

  private async start(): Promise<void> {
    const binary = this.options.binary ?? 'radvd';
    const argv = ['--nodaemon', '--config', this.options.configPath, '--pidfile', this.options.pidPath, '--logmethod', 'stderr'];
    const child = spawn(binary, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    this.child = child;
    this.stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
    });
    const failed = new Promise<Error>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) =>
        resolve(error.code === 'ENOENT' ? new MissingToolError(binary, 'radvd (apt install radvd)') : error),
      );
      child.once('close', (code, signal) => resolve(new Error(`radvd exited (${signal ?? `exit ${code}`}): ${this.lastWords()}`)));
    });
    child.once('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (!this.stopping) this.options.onExit?.(`radvd exited (${signal ?? `exit ${code}`}): ${this.lastWords()}`);
    });
    const started = await Promise.race([failed, this.pidFileOf(child)]);
    if (started instanceof Error) {
      this.child = undefined;
      throw started;
    }
  }

  /** Resolves once radvd wrote its pid file (it has read its config and opened its socket), or gives up at the guard. */
  private async pidFileOf(child: ChildProcess): Promise<true | Error> {
    for (
      const end = Date.now() + START_GUARD_MS;
      Date.now() < end && child.exitCode === null;
      await new Promise((r) => setTimeout(r, 20))
    ) {
      const written = await readFile(this.options.pidPath, 'utf8').catch(() => '');
      if (Number(written.trim()) === child.pid) return true;
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    return new Error(`radvd did not start: ${this.lastWords()}`);
  }

  /** Ends a radvd that an earlier daemon started on our config, without a goodbye: its guests keep their route. */
  private async endStale(): Promise<void> {
    const pid = Number((await readFile(this.options.pidPath, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1) return;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv[0]?.endsWith('radvd') || !argv.includes(this.options.configPath)) return;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 250 && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) !== ''; i++)
      await new Promise((r) => setTimeout(r, 20));
  }

  private lastWords(): string {
    return (
      this.stderr
        .trim()
        .split('\n')
        .filter((line) => !/forwarding/.test(line))
        .at(-1)
        ?.replace(/^\[[^\]]*\] radvd \(\d+\): /, '') ?? 'no message'
    );
  }
}

/** radvd's version, for doctor; undefined where there is no radvd (an Android host, say). */
export async function radvdVersion(binary = 'radvd'): Promise<string | undefined> {
  const result = await runCommand([binary, '--version']).catch(() => undefined);
  return result?.exitCode === 0 ? /Version:\s*(\S+)/.exec(result.stdout)?.[1] : undefined;
}
