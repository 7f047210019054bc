import type { Knex } from 'knex';
import type { LoginFailureRow } from '../db/tables';

export async function findLoginFailures(db: Knex, keys: string[]): Promise<LoginFailureRow[]> {
  return db<LoginFailureRow>('login_failures').whereIn('key', keys);
}

/** A counter is forgotten once `window` seconds have passed since its last failure and its lock. */
const FORGOTTEN = `greatest(login_failures.last_failed_at, coalesce(login_failures.locked_until, login_failures.last_failed_at)) < now() - make_interval(secs => :window)`;

export interface FailurePolicy {
  /** Failures before the first lock. */
  maxFailures: number;
  /** The first lock; each failure after it doubles the lock. */
  lockSeconds: number;
  /** How long failures are remembered after the last one (and its lock) ended; also the longest lock. */
  windowSeconds: number;
}

/**
 * Counts one more failure for `key` and, from the `maxFailures`-th on, locks it for `lockSeconds`
 * doubled per failure beyond the limit, at most `windowSeconds`. One statement, so concurrent
 * failures each count. Returns the row after the update.
 */
export async function recordLoginFailure(db: Knex, key: string, policy: FailurePolicy): Promise<LoginFailureRow> {
  const lock = (failures: string) =>
    `case when ${failures} >= :max then now() + make_interval(secs => least(cast(:window as float8), :lock * power(2, least(${failures} - :max, 40)))) end`;
  const counted = `case when ${FORGOTTEN} then 1 else login_failures.failures + 1 end`;
  const result = await db.raw(
    `insert into login_failures (key, failures, last_failed_at, locked_until)
       values (:key, 1, now(), ${lock('1')})
     on conflict (key) do update set
       failures = ${counted},
       last_failed_at = now(),
       locked_until = ${lock(`(${counted})`)}
     returning *`,
    { key, max: policy.maxFailures, lock: policy.lockSeconds, window: policy.windowSeconds },
  );
  return (result.rows as LoginFailureRow[])[0];
}

export async function clearLoginFailures(db: Knex, keys: string[]): Promise<void> {
  await db('login_failures').whereIn('key', keys).delete();
}

/** Drops the counters whose last failure and lock are over by more than `windowSeconds`. */
export async function deleteStaleLoginFailures(db: Knex, windowSeconds: number): Promise<void> {
  await db.raw(`delete from login_failures where ${FORGOTTEN}`, { window: windowSeconds });
}
