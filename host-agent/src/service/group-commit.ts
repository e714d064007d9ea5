// Group commit, as databases do it: work that arrives while a run is under
// way waits, and the next run takes everything that waited as one group. A
// request alone starts at once, and a burst of them costs a few runs rather
// than one each.

type Settled<R> = PromiseSettledResult<R>;

interface Waiting<T, R> {
  item: T;
  settle: (result: Settled<R>) => void;
}

export class GroupCommit<T, R> {
  private waiting: Array<Waiting<T, R>> = [];
  private running = false;

  /** `run`: carries out a group, one result per item in order; a run that throws fails each of its items. */
  constructor(private readonly run: (items: T[]) => Promise<Array<Settled<R>>>) {}

  /** Carries out `items`, in the same group: now when no run is under way, else with the next group. */
  submit(items: readonly T[]): Promise<Array<Settled<R>>> {
    const results = items.map((item) => new Promise<Settled<R>>((settle) => this.waiting.push({ item, settle })));
    void this.drain();
    return Promise.all(results);
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const group = this.waiting.splice(0);
        const results = await this.run(group.map((w) => w.item)).catch((reason: unknown) =>
          group.map((): Settled<R> => ({ status: 'rejected', reason })),
        );
        for (const [i, waiting] of group.entries())
          waiting.settle(results[i] ?? { status: 'rejected', reason: new Error('the group ended without its result') });
      }
    } finally {
      this.running = false;
    }
  }
}

/** The value of a result, or its failure thrown. */
export async function settledOne<R>(result: Settled<R> | undefined): Promise<R> {
  if (result?.status === 'fulfilled') return result.value;
  throw result ? result.reason : new Error('no result');
}
