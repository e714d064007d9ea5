import type { HostQuery } from './host-queries.js';

/** The host's `ip -batch`: one makes a new guest's pair, so the daemon keeps one spawned ahead (its runner's spare). */
export const IP_BATCH: readonly string[] = ['ip', '-batch', '-'];
/**
 * An nftables script on stdin: a firewall transaction, a bridged guest's port lock. nft opens its netlink socket and
 * reads all of its input before it asks the kernel anything, so one may wait spawned ahead, as `ip -batch` does.
 */
export const NFT_SCRIPT: readonly string[] = ['nft', '-f', '-'];

/** The commands a runner may keep spawned ahead, by name; a step that says `spare` names one, and runs its argv. */
export const SPARE_COMMANDS = { ipBatch: IP_BATCH, nftScript: NFT_SCRIPT } as const;
export type SpareName = keyof typeof SPARE_COMMANDS;

/** One side effect, as data: a process (argv plus optional stdin), a state file write or removal, or a sysctl. */
export type Step =
  /**
   * `unsupported`: stderr that means the kernel lacks a feature, reported as such (exit 17) instead of a failed command.
   * `midway`: steps taken while the process waits for the rest of its input: once it has printed (the last command of
   * `input` prints when done), `steps` run, then it reads `rest`. Still one process; a dry run shows it as two.
   * `spare`: a run of that command of SPARE_COMMANDS, which a runner given a spare process of it (the daemon's) runs
   * in that process, spawned ahead; any other runner spawns it.
   */
  | {
      kind: 'run';
      argv: string[];
      input?: string;
      tolerate?: RegExp;
      unsupported?: { when: RegExp; message: string };
      midway?: { steps: Step[]; rest: string };
      spare?: SpareName;
    }
  | { kind: 'write'; path: string; content: string }
  | { kind: 'remove'; path: string }
  /** `ifPresent`: an interface's sysctl that may have gone with its interface. */
  | { kind: 'sysctl'; path: string; value: string; ifPresent?: true };

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
