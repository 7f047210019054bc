/**
 * Transactions that change what other processes cache (retried like every service transaction). `changed(kind, id)` inside one both queues
 * the NOTIFY (sent by PostgreSQL at commit, never for a rollback) and, once the transaction is
 * over, drops the entry from this process's caches before the caller returns.
 */
import type { InvalidationBus, InvalidationKind } from '../db/invalidation';
import type { Db, Tx } from '../db/knex';
import { inTransaction } from '../db/transaction';
import { notifyInvalidation } from '../repositories/invalidations.repository';

export type Changed = (kind: InvalidationKind, id: string) => Promise<void>;

export async function committing<T>(
  db: Db,
  bus: InvalidationBus,
  work: (tx: Tx, changed: Changed) => Promise<T>,
): Promise<T> {
  const changes: [InvalidationKind, string][] = [];
  try {
    return await inTransaction(db, (tx) =>
      work(tx, async (kind, id) => {
        changes.push([kind, id]);
        await notifyInvalidation(tx, kind, id);
      }),
    );
  } finally {
    // Also after a failure: dropping an entry that did not change costs one read, keeping one
    // that did (the commit's outcome unknown) would cost correctness.
    for (const [kind, id] of changes) bus.changed(kind, id);
  }
}
