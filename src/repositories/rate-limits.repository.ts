/** Rate limits of outbound calls (a node's `rate_limit`), as GCRA buckets per account and key. */
import type { Knex } from 'knex';

/**
 * Reserves the next call of a bucket and returns when it may run: now, or later when the bucket
 * is spent. One statement: concurrent reservations queue on the row and each gets its own time.
 * `intervalS` is 1 / the rate; `burst` calls may run back to back.
 */
export async function reserveCall(
  db: Knex,
  accountId: string,
  key: string,
  intervalS: number,
  burst: number,
): Promise<Date> {
  const result = await db.raw(
    `insert into rate_limits as r (account_id, key, tat)
     values (?, ?, clock_timestamp() + make_interval(secs => ?::float8))
     on conflict (account_id, key) do update
       set tat = greatest(r.tat, clock_timestamp()) + make_interval(secs => ?::float8)
     returning greatest(clock_timestamp(), r.tat - make_interval(secs => ?::float8)) as run_at`,
    [accountId, key, intervalS, intervalS, intervalS * burst],
  );
  return new Date(result.rows[0].run_at);
}

/** Drops buckets whose last reservation is long past (they would start full anyway). */
export async function deleteIdleRateLimits(db: Knex): Promise<void> {
  await db.raw(`delete from rate_limits where tat < now() - interval '1 hour'`);
}

/** The task of an execution that sleeps until a time (a delay, a deferred call): its node and state. */
export async function findSleepingTask(
  db: Knex,
  executionId: string,
): Promise<{ node_id: string; run_at: Date; state: Record<string, unknown> | null } | undefined> {
  return db('tasks')
    .where({ execution_id: executionId })
    .whereNull('lease_owner')
    .orderBy('run_at')
    .first('node_id', 'run_at', 'state');
}
