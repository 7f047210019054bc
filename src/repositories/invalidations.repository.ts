import type { Knex } from 'knex';
import { invalidationPayload, type InvalidationKind } from '../db/invalidation';

export const INVALIDATE_CHANNEL = 'flowrunner_invalidate';

/** Sent when `tx` commits, and only then: every process's caches drop `kind:id`. */
export async function notifyInvalidation(tx: Knex.Transaction, kind: InvalidationKind, id: string): Promise<void> {
  await tx.raw('select pg_notify(?, ?)', [INVALIDATE_CHANNEL, invalidationPayload(kind, id)]);
}
