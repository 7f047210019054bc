import type { Knex } from 'knex';
import type { LoginFailureRow } from '../db/tables';

export async function findLoginFailures(db: Knex, keys: string[]): Promise<LoginFailureRow[]> {
  return db<LoginFailureRow>('login_failures').whereIn('key', keys);
}

/**
 * Counts one more failure for each key within a window that restarts once it has passed; locks
 * the key for `lockSeconds` when it reaches `maxFailures`. Returns the rows after the update.
 */
export async function recordLoginFailure(
  db: Knex,
  keys: string[],
  windowSeconds: number,
  maxFailures: number,
  lockSeconds: number,
): Promise<LoginFailureRow[]> {
  const result = await db.raw(
    `insert into login_failures (key, failures, window_started_at)
       select k, 1, now() from unnest(?::text[]) as k
     on conflict (key) do update set
       failures = case when login_failures.window_started_at < now() - make_interval(secs => ?) then 1 else login_failures.failures + 1 end,
       window_started_at = case when login_failures.window_started_at < now() - make_interval(secs => ?) then now() else login_failures.window_started_at end
     returning *`,
    [keys, windowSeconds, windowSeconds],
  );
  const rows = result.rows as LoginFailureRow[];
  const reached = rows.filter((r) => r.failures >= maxFailures).map((r) => r.key);
  if (reached.length === 0) return rows;
  return db<LoginFailureRow>('login_failures')
    .whereIn('key', reached)
    .update({
      locked_until: db.raw('now() + make_interval(secs => ?)', [lockSeconds]) as unknown as Date,
      failures: 0,
      window_started_at: db.fn.now() as unknown as Date,
    })
    .returning('*');
}

export async function clearLoginFailures(db: Knex, keys: string[]): Promise<void> {
  await db('login_failures').whereIn('key', keys).delete();
}

/** Drops the counters whose window has passed and that hold no lock still in force. */
export async function deleteStaleLoginFailures(db: Knex, windowSeconds: number): Promise<void> {
  await db('login_failures')
    .where('window_started_at', '<', db.raw('now() - make_interval(secs => ?)', [windowSeconds]))
    .andWhere((q) => {
      void q.whereNull('locked_until').orWhere('locked_until', '<', db.fn.now());
    })
    .delete();
}
