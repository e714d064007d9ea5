// How much each kind of run measures. docs/performance.md's "Reproduce" is written from these.

export interface RunSize {
  /** Timed attaches per system, interleaved run by run. */
  runs: number;
  /** The attach numbers N whose host-side time is reported (each the median of N-2 to N+2). */
  scalePoints: readonly number[];
  /** Guests attached at once in a storm, and the rounds of storms. */
  stormGuests: number;
  stormRounds: number;
}

export const RUN_SIZES = {
  full: { runs: 20, scalePoints: [1, 50, 200, 500], stormGuests: 100, stormRounds: 5 },
  // 200 in every run but the smoke one: the bulk detach's target is set at 200 guests.
  quick: { runs: 5, scalePoints: [1, 200], stormGuests: 30, stormRounds: 3 },
  smoke: { runs: 1, scalePoints: [1, 3], stormGuests: 2, stormRounds: 1 },
} as const satisfies Record<string, RunSize>;

export type RunKind = keyof typeof RUN_SIZES;
