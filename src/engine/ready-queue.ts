/**
 * Tasks this worker holds leases on but has not started yet, served one account at a time in turn:
 * the in-memory side of the fair claim, so a burst from one account handed over in memory doesn't
 * queue another account's task behind it.
 */
export class ReadyQueue<T> {
  private readonly byAccount = new Map<string, T[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(accountId: string, item: T): void {
    const queue = this.byAccount.get(accountId);
    if (queue) queue.push(item);
    else this.byAccount.set(accountId, [item]);
    this.count++;
  }

  /** The next item of the account whose turn it is; that account then goes to the back of the line. */
  shift(): T | undefined {
    for (const [accountId, queue] of this.byAccount) {
      const item = queue.shift()!;
      this.byAccount.delete(accountId);
      if (queue.length > 0) this.byAccount.set(accountId, queue);
      this.count--;
      return item;
    }
    return undefined;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const queue of this.byAccount.values()) yield* queue;
  }

  clear(): T[] {
    const all = [...this];
    this.byAccount.clear();
    this.count = 0;
    return all;
  }
}
