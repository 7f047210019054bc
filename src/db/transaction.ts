/**
 * Where transactions enter. PostgreSQL may abort a transaction for no fault of its own, only
 * because another one ran at the same time: a serialization failure (40001) under repeatable read
 * or serializable, or a deadlock (40P01) under any isolation, which it breaks by aborting one of
 * the two. Its documentation's answer is to run the transaction again, so that is done here, a
 * bounded number of times with jittered backoff (the two sides would otherwise meet again in
 * step), instead of the caller seeing a 500.
 *
 * `work` may therefore run more than once: it must do nothing outside the transaction that cannot
 * be repeated (its SQL is rolled back each time; an HTTP call or a message sent would not be).
 */
import { isTransactionConflict } from './errors';
import type { Db, Tx } from './knex';

/** How many times a transaction is tried before its conflict is let through. */
export const TRANSACTION_ATTEMPTS = 5;
const BACKOFF_BASE_MS = 20;
const BACKOFF_CAP_MS = 500;

export interface TransactionOptions {
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable';
  /** Called before each retry, with the conflict that caused it (for logs and tests). */
  onRetry?: (err: unknown, attempt: number) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `work` in a transaction on `db` and returns its result; runs it again from the start when
 * PostgreSQL aborts it for a conflict with a concurrent transaction. Inside a transaction already
 * (`db` is a `Tx`) it opens a savepoint and does not retry: the conflict aborts the outer
 * transaction too, so only the outermost call can run it again.
 */
export async function inTransaction<T>(
  db: Db | Tx,
  work: (tx: Tx) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const config = options.isolationLevel ? { isolationLevel: options.isolationLevel } : undefined;
  if (db.isTransaction) return db.transaction(work, config);
  return retryingConflicts(() => db.transaction(work, config), options.onRetry);
}

/**
 * Runs `attempt` again, the same way, when PostgreSQL aborts it for a conflict: for a transaction
 * (above), or for a single statement that is atomic on its own (the engine's hot path).
 */
export async function retryingConflicts<T>(
  attempt: () => Promise<T>,
  onRetry?: (err: unknown, attempt: number) => void,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= TRANSACTION_ATTEMPTS || !isTransactionConflict(err)) throw err;
      onRetry?.(err, n);
      // "Full jitter": anywhere up to an exponentially growing ceiling.
      await sleep(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (n - 1)));
    }
  }
}
