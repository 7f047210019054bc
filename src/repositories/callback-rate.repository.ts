/** The callback URL's rate counters (fixed windows): one statement counts a call under every key. */
import type { Knex } from 'knex';

/** Counts one call under each key; the calls of each key's current window and the seconds it has left. */
export async function countCallbackCall(
  db: Knex,
  keys: string[],
  windowSeconds: number,
): Promise<{ key: string; calls: number; retry_after: number }[]> {
  const result = await db.raw(
    `insert into callback_rate as r (key, window_started_at, calls)
       select k, now(), 1 from unnest(?::text[]) as k
     on conflict (key) do update set
       calls = case when r.window_started_at <= now() - make_interval(secs => ?) then 1 else r.calls + 1 end,
       window_started_at = case when r.window_started_at <= now() - make_interval(secs => ?) then now()
                                else r.window_started_at end
     returning key, calls,
       greatest(1, ceil(extract(epoch from r.window_started_at + make_interval(secs => ?) - now())))::int as retry_after`,
    [keys, windowSeconds, windowSeconds, windowSeconds],
  );
  return result.rows;
}

export async function deleteStaleCallbackRates(db: Knex, windowSeconds: number): Promise<void> {
  await db.raw('delete from callback_rate where window_started_at < now() - make_interval(secs => ?)', [windowSeconds]);
}
