import type { Knex } from 'knex';

export const IDEMPOTENCY_TTL_HOURS = 24;

/**
 * Claims a key for a new execution, or returns the row that holds it. A concurrent request with
 * the same key waits on the unique index until the first commits, then sees its row.
 */
export async function claimIdempotencyKey(
  tx: Knex.Transaction,
  row: { account_id: string; key: string; request_hash: string; execution_id: string },
): Promise<{ claimed: true } | { claimed: false; request_hash: string; execution_id: string }> {
  await tx('idempotency_keys')
    .where({ account_id: row.account_id, key: row.key })
    .where('created_at', '<', tx.raw(`now() - interval '${IDEMPOTENCY_TTL_HOURS} hours'`))
    .delete();
  const inserted = await tx('idempotency_keys').insert(row).onConflict(['account_id', 'key']).ignore().returning('key');
  if (inserted.length > 0) return { claimed: true };
  const existing = await tx('idempotency_keys')
    .where({ account_id: row.account_id, key: row.key })
    .first('request_hash', 'execution_id');
  return { claimed: false, ...existing };
}

/** Drops the keys older than the TTL (a start with such a key counts as new anyway). */
export async function deleteExpiredIdempotencyKeys(db: Knex): Promise<void> {
  await db('idempotency_keys')
    .where('created_at', '<', db.raw(`now() - interval '${IDEMPOTENCY_TTL_HOURS} hours'`))
    .delete();
}
