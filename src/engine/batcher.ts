/**
 * Group commit for the hot path. While one batch is being written, the items submitted meanwhile
 * gather for the next one: under load many share a transaction (and a WAL flush), at low load an
 * item is written at once, alone. A batch that fails is written again one item at a time, so one
 * bad item (a value the database refuses) fails alone and the others go through.
 */
export class Batcher<I, O> {
  private queue: { item: I; resolve(o: O): void; reject(err: unknown): void }[] = [];
  private busy = false;

  /** `write` answers one output per item, in order, or throws for the whole batch. */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch: number,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const out = await this.write(batch.map((p) => p.item));
          batch.forEach((p, k) => p.resolve(out[k]));
        } catch (err) {
          if (batch.length === 1) batch[0].reject(err);
          else
            for (const p of batch)
              await this.write([p.item]).then(
                ([o]) => p.resolve(o),
                (e: unknown) => p.reject(e),
              );
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
