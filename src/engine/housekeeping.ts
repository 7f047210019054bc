/**
 * Drops rows that have served their time: token revocations past the token's expiry,
 * idempotency keys past 24 hours, login-failure counters whose window and lock are over.
 * Run by worker processes every few minutes; any number may run it at once.
 */
import type { Knex } from 'knex';
import type { Logger } from '../log';
import { IDEMPOTENCY_TTL_HOURS } from '../repositories/idempotency.repository';
import { deleteExpiredRevocations } from '../repositories/tokens.repository';

export async function sweep(db: Knex, loginWindowSeconds: number): Promise<void> {
  await deleteExpiredRevocations(db);
  await db('idempotency_keys')
    .where('created_at', '<', db.raw(`now() - interval '${IDEMPOTENCY_TTL_HOURS} hours'`))
    .delete();
  await db('login_failures')
    .where('window_started_at', '<', db.raw('now() - make_interval(secs => ?)', [loginWindowSeconds]))
    .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<', db.fn.now()))
    .delete();
}

export function startHousekeeping(db: Knex, loginWindowSeconds: number, log: Logger, everyMs = 5 * 60_000): () => void {
  const timer = setInterval(() => {
    sweep(db, loginWindowSeconds).catch((err) =>
      log.warn({ err: (err as Error).message }, 'housekeeping failed; will try again'),
    );
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
