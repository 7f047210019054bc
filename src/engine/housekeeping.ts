/**
 * Drops rows that have served their time: token revocations past the token's expiry,
 * idempotency keys and webhook delivery ids past 24 hours, login-failure counters whose window and lock are over,
 * callback rate counters whose minute is over, rate-limit buckets idle for an hour.
 * Run by worker processes every few minutes; any number may run it at once.
 */
import type { Db } from '../db/knex';
import type { Logger } from '../log';
import { deleteStaleCallbackRates } from '../repositories/callback-rate.repository';
import { deleteExpiredIdempotencyKeys } from '../repositories/idempotency.repository';
import { deleteStaleLoginFailures } from '../repositories/login-failures.repository';
import { deleteExpiredRevocations } from '../repositories/tokens.repository';
import { deleteExpiredDeliveryIds } from '../repositories/webhooks.repository';
import { deleteIdleRateLimits } from '../repositories/rate-limits.repository';

export async function sweep(db: Db, loginWindowSeconds: number): Promise<void> {
  await deleteExpiredRevocations(db);
  await deleteExpiredIdempotencyKeys(db);
  await deleteStaleLoginFailures(db, loginWindowSeconds);
  await deleteExpiredDeliveryIds(db);
  await deleteStaleCallbackRates(db, 60);
  await deleteIdleRateLimits(db);
}

export function startHousekeeping(db: Db, loginWindowSeconds: number, log: Logger, everyMs = 5 * 60_000): () => void {
  const timer = setInterval(() => {
    sweep(db, loginWindowSeconds).catch((err) =>
      log.warn({ err: (err as Error).message }, 'housekeeping failed; will try again'),
    );
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
