/** One side effect, as data: a process (argv plus optional stdin), a state file write or removal, or a sysctl. */
export type Step =
  /** `unsupported`: stderr that means the kernel lacks a feature, reported as such (exit 17) instead of a failed command. */
  | { kind: 'run'; argv: string[]; input?: string; tolerate?: RegExp; unsupported?: { when: RegExp; message: string } }
  | { kind: 'write'; path: string; content: string }
  | { kind: 'remove'; path: string }
  /** `ifPresent`: an interface's sysctl that may have gone with its interface. */
  | { kind: 'sysctl'; path: string; value: string; ifPresent?: true };

/** Reads never change anything, so every runner performs them for real. */
export interface Reader {
  read(argv: string[]): Promise<string>;
}
