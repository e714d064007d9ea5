import type { HostQuery } from './host-queries.js';

/**
 * Commands that read their whole input before they act (take a lock, fill a
 * cache, change anything): a long-lived runner (the daemon's) may spawn one
 * ahead and hand it its input when a step that names it runs (SpareProcess).
 * A step that names one takes its argv from here.
 */
export const SPARE_COMMANDS = {
  'ip-batch': ['ip', '-batch', '-'],
  nft: ['nft', '-f', '-'],
  'iptables-restore': ['iptables-restore', '--noflush', '-w'],
  'ip6tables-restore': ['ip6tables-restore', '--noflush', '-w'],
  'iptables-legacy-restore': ['iptables-legacy-restore', '--noflush', '-w'],
  'ip6tables-legacy-restore': ['ip6tables-legacy-restore', '--noflush', '-w'],
} as const satisfies Record<string, readonly string[]>;
export type SpareCommand = keyof typeof SPARE_COMMANDS;

/** The host's `ip -batch`: one makes a new guest's pair. */
export const IP_BATCH: readonly string[] = SPARE_COMMANDS['ip-batch'];

/** One side effect, as data: a process (argv plus optional stdin), a state file write or removal, or a sysctl. */
export type Step =
  /**
   * `unsupported`: stderr that means the kernel lacks a feature, reported as such (exit 17) instead of a failed command.
   * `midway`: steps taken while the process waits for the rest of its input: once it has printed (the last command of
   * `input` prints when done), `steps` run, then it reads `rest`. Still one process; a dry run shows it as two.
   * `spare`: which of SPARE_COMMANDS this is (its argv is that one's): a runner that keeps spares (the daemon's)
   * runs it in one spawned ahead; any other runner spawns it.
   * `guestOnly`: it acts inside one guest's netns and on nothing of the host's, so what a runner remembers of the
   * host stays true. Were it to touch the host's links after all, the host's kernel events would say so.
   */
  | {
      kind: 'run';
      argv: string[];
      input?: string;
      tolerate?: RegExp;
      unsupported?: { when: RegExp; message: string };
      midway?: { steps: Step[]; rest: string };
      spare?: SpareCommand;
      guestOnly?: true;
    }
  | { kind: 'write'; path: string; content: string }
  | { kind: 'remove'; path: string }
  /**
   * `ifPresent`: an interface's sysctl that may have gone with its interface. `waitsForRtnl`: the kernel takes
   * the write only while no one holds rtnl, and has the writer retry until then (forwarding).
   */
  | { kind: 'sysctl'; path: string; value: string; ifPresent?: true; waitsForRtnl?: true };

/** Reads never change anything, so every runner performs them for real. */
export interface Reader {
  /** A read no runner remembers. */
  read(argv: string[]): Promise<string>;
  /** One of the host model's named queries, which a runner may answer from memory while it is fresh. */
  query(query: HostQuery): Promise<string>;
}

/** Performs steps: the runners (exec/runner.ts), and what the record store writes through. */
export interface Performer {
  perform(step: Step, secrets?: readonly string[]): Promise<void>;
  /** A dry run: steps are printed, and nothing changes. */
  readonly dryRun?: boolean;
}
