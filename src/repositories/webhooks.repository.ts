/** Webhook triggers, their delivery log and the delivery ids they remember. */
import type { Knex } from 'knex';
import type { WebhookDeliveryRow, WebhookRow } from '../db/tables';

/** How long a delivery id is remembered. */
export const DELIVERY_ID_TTL_HOURS = 24;

/** A trigger with the time of its latest call, read from the log (no write per call on the trigger's row). */
const WITH_LAST_DELIVERY = (db: Knex) => [
  'w.*',
  db.raw('(select max(received_at) from webhook_deliveries d where d.webhook_id = w.id) as last_delivery_at'),
];

export async function insertWebhook(
  db: Knex,
  row: Omit<WebhookRow, 'created_at' | 'last_delivery_at'>,
): Promise<WebhookRow> {
  const [created] = await db<WebhookRow>('webhooks')
    .insert({ ...row, verification: JSON.stringify(row.verification) as never })
    .returning('*');
  return { ...created, last_delivery_at: null };
}

export async function findWebhook(db: Knex, id: string): Promise<WebhookRow | undefined> {
  return db('webhooks as w')
    .where('w.id', id)
    .first(...WITH_LAST_DELIVERY(db));
}

/** The trigger behind a URL token (by its hash), if its flow still exists. */
export async function findWebhookByTokenHash(db: Knex, tokenHash: string): Promise<WebhookRow | undefined> {
  return db<WebhookRow>('webhooks as w')
    .join('flows as f', 'f.id', 'w.flow_id')
    .whereNull('f.deleted_at')
    .where('w.token_hash', tokenHash)
    .first('w.*');
}

export async function listWebhookRows(db: Knex, flowId: string): Promise<WebhookRow[]> {
  return db('webhooks as w')
    .where('w.flow_id', flowId)
    .orderBy('w.id')
    .select(...WITH_LAST_DELIVERY(db));
}

export async function updateWebhookRow(db: Knex, id: string, patch: Partial<WebhookRow>): Promise<WebhookRow> {
  await db<WebhookRow>('webhooks').where({ id }).update(patch);
  return (await findWebhook(db, id))!;
}

export async function deleteWebhookRow(db: Knex, id: string): Promise<void> {
  await db('webhooks').where({ id }).delete();
}

/** Accepted calls of the trigger in the last minute, and when the oldest of them came (for the rate limit). */
export async function recentDeliveries(db: Knex, webhookId: string): Promise<{ count: number; oldest: Date | null }> {
  const row = await db('webhook_deliveries')
    .where({ webhook_id: webhookId })
    .where('status', '<', 300)
    .where('received_at', '>', db.raw("now() - interval '1 minute'"))
    .first(db.raw('count(*)::int as count'), db.raw('min(received_at) as oldest'));
  return { count: Number(row?.count ?? 0), oldest: (row?.oldest as Date | null) ?? null };
}

export async function insertDelivery(db: Knex, row: Omit<WebhookDeliveryRow, 'id' | 'received_at'>): Promise<void> {
  await db('webhook_deliveries').insert(row);
}

export async function listDeliveryRows(
  db: Knex,
  webhookId: string,
  limit: number,
  offset: number,
): Promise<{ rows: WebhookDeliveryRow[]; total: number }> {
  const base = db<WebhookDeliveryRow>('webhook_deliveries').where({ webhook_id: webhookId });
  const [rows, [{ count }]] = await Promise.all([
    base.clone().orderBy('id', 'desc').limit(limit).offset(offset),
    base.clone().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows, total: Number(count) };
}

/**
 * Claims a delivery id for a new execution, or returns the execution that holds it. A concurrent
 * call with the same id waits on the primary key until the first commits, then sees its row.
 */
export async function claimDeliveryId(
  tx: Knex.Transaction,
  row: { webhook_id: string; delivery_id: string; execution_id: string },
): Promise<{ claimed: true } | { claimed: false; execution_id: string }> {
  await tx('webhook_delivery_ids')
    .where({ webhook_id: row.webhook_id, delivery_id: row.delivery_id })
    .where('created_at', '<', tx.raw(`now() - interval '${DELIVERY_ID_TTL_HOURS} hours'`))
    .delete();
  const inserted = await tx('webhook_delivery_ids')
    .insert(row)
    .onConflict(['webhook_id', 'delivery_id'])
    .ignore()
    .returning('delivery_id');
  if (inserted.length > 0) return { claimed: true };
  const existing = await tx('webhook_delivery_ids')
    .where({ webhook_id: row.webhook_id, delivery_id: row.delivery_id })
    .first('execution_id');
  return { claimed: false, execution_id: existing.execution_id };
}

/** Drops delivery ids older than their 24 hours. */
export async function deleteExpiredDeliveryIds(db: Knex): Promise<void> {
  await db('webhook_delivery_ids')
    .where('created_at', '<', db.raw(`now() - interval '${DELIVERY_ID_TTL_HOURS} hours'`))
    .delete();
}
