/**
 * Group commit for the hot path. While batches are being written (at most `maxInFlight` at once,
 * each on a connection of its own), the items submitted meanwhile gather for the next one: under
 * load many share a transaction, and the batches in flight share WAL flushes; at low load an item
 * is written at once, alone. A batch that fails is written again one item at a time, so one bad
 * item (a value the database refuses) fails alone and the others go through.
 */
interface Pending<I, O> {
  item: I;
  resolve(o: O): void;
  reject(err: unknown): void;
}

export class Batcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;

  /** `write` answers one output per item, in order, or throws for the whole batch. */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch: number,
    private readonly maxInFlight = 1,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.inFlight++;
    void this.writeBatch(this.queue.splice(0, this.maxBatch)).finally(() => {
      this.inFlight--;
      this.next();
    });
  }

  private async writeBatch(batch: Pending<I, O>[]): Promise<void> {
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
}
